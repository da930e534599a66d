"""Provider wire formats: decide every tool call in a model response as the app received it."""
