"""`python -m hil.emulator RIG.yaml [--watch-stdin]`: run the emulated rig, print its endpoints as JSON."""

import argparse

import yaml

from hil.emulator.config import EmulatorConfig
from hil.emulator.server import main

parser = argparse.ArgumentParser(prog="python -m hil.emulator")
parser.add_argument("rig", help="rig file whose emulator: and environment: sections configure the emulator")
parser.add_argument("--watch-stdin", action="store_true", help="exit when standard input closes")
options = parser.parse_args()
with open(options.rig, encoding="utf-8") as handle:
    main(EmulatorConfig.from_rig(yaml.safe_load(handle) or {}), options.watch_stdin)
