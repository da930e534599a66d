"""The rule language: grammar, checker, compiler and the builtin functions rules call."""
