"""Tool schemas: one JSON Schema per tool, that its arguments must satisfy.

registry   SchemaRegistry (every known tool) and ToolSchema (one tool's validators)
load       schema files and tool bundles (OpenAI, Anthropic, MCP, plain) read into definitions
meta       the metaschema check at load (jsonschema-rs first, jsonschema decides)
regexes    `pattern` and `patternProperties` matched with RE2
fast       the compiled fast path (fastjsonschema) and the proof that its patterns are RE2's
"""

from toolwall.schemas.load import NO_PARAMETERS, ToolDefinition
from toolwall.schemas.registry import SchemaRegistry, SchemaViolation, ToolSchema

__all__ = ["NO_PARAMETERS", "SchemaRegistry", "SchemaViolation", "ToolDefinition", "ToolSchema"]
