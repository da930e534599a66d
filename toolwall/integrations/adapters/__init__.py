"""Framework integrations, one module and one extra each (`toolwall[langchain]`, ...).

The core package never imports these modules; each imports its framework itself.
"""
