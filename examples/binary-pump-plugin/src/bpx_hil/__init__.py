"""Example: the hil driver for the "BPX" pump, which speaks a binary protocol of its own (bpx_hil.wire), and the
emulated BPX pump it is tried on (bpx_hil.sim). Nothing here touches hil/."""
