#!/usr/bin/env bash
# The main job: set up, then run the full safety campaign (default: against the emulator) and build the
# HTML report in reports/latest/report/index.html. Extra arguments go to `hil verify` (e.g. --rig FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/hil verify "$@"
