"""The emulated bench rig: its own process, reached by the harness only over ptys (see server.py)."""
