"""Acme's drivers for the hil insulin-pump verification suite."""
