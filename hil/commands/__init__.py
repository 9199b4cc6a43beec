"""The `hil` command's groups, one module each: their options, and how they print what the parts below return."""
