"""Bad-input campaign figures for the closing note: mutated spec and rig files, and what the loaders made of them.

    .venv/bin/python benchmarks/bad_input_campaign.py

Prints mutants tried / rejected with a located error / valid and accepted / wrong outcome / tracebacks / hangs,
specs and rigs apart, then every mutant whose outcome was not the expected one.
"""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.input_mutants import run_campaign, table  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tallies = {kind: run_campaign(kind, Path(tmp) / kind) for kind in ("spec", "rig")}
    print(table(tallies))
    wrong = [r for tally in tallies.values() for r in tally.wrong()]
    for result in wrong:
        print(f"  {result.mutant.name}: expected {result.mutant.expect}, got {result.outcome} {result.detail}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
