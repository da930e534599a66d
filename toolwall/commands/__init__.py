"""Sub-commands of the `toolwall` command line, one module each."""
