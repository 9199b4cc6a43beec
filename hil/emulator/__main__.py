"""`python -m hil.emulator RIG.yaml [--watch-stdin]`: run the emulated rig, print its endpoints as JSON."""

import argparse
import os

from hil.emulation.options import EmulatorConfig
from hil.emulator.firmware_process import RIG_ENV
from hil.emulator.server import main
from hil.rig.config import load_rig

parser = argparse.ArgumentParser(prog="python -m hil.emulator")
parser.add_argument("rig", help="rig file whose emulator: and environment: sections configure the emulator")
parser.add_argument("--watch-stdin", action="store_true", help="exit when standard input closes")
options = parser.parse_args()
os.environ[RIG_ENV] = os.path.abspath(options.rig)  # the rig a firmware process it starts reads, if it needs one
main(EmulatorConfig.from_rig(load_rig(options.rig).data), options.watch_stdin)
