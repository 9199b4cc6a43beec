"""What the harness and the emulator both read, so that neither imports the other for it: the rig file's `emulator:`
section with every parameter's source (options), the endpoints a rig file may name, and the wire faults."""
