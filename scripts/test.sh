#!/usr/bin/env bash
# The project's own tests: set up, check the requirement files and their traceability, run the static checks
# (scripts/static.sh, told that setup has run: ruff and mypy over hil/), then run the unit tests and the system
# tests (the suite against the nominal emulator, against each seeded-defect rig, and with the emulator killed
# mid-run), on three workers (pytest-xdist) on CI's two cores: the system tests are whole campaigns, each an emulator
# and a pytest in lockstep, and several wait on the wall clock (a rehearsal at 300x, wire stalls, a lab's serial
# servers, signals), during which a third worker has a core to run on. Tests are shared out a file at a time
# (--dist loadfile): the validation's campaigns (tests/system/test_campaigns.py, two side by side) and every test
# that reads its result stay on one worker, so the others never idle waiting for it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/hil specs check
.venv/bin/hil trace --format csv
STATIC_SKIP_SETUP=1 ./scripts/static.sh
set +e
.venv/bin/python -m pytest tests/unit tests/system -p no:cacheprovider -q --timeout 3000 -n 3 --dist loadfile --no-loadscope-reorder "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "test: pytest collected no tests (exit 5); nothing was selected" >&2
  exit 0
fi
exit "$code"
