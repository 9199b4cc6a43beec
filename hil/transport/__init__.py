"""Byte transports with deadlines: framed serial lines over pyserial (pty, USB, socket:// URLs)."""
