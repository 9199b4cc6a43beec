"""Wall time of the minimum-rate occlusion case (OC-ALARM-002, 0.05 U/h: tens of simulated hours) run
as the suite runs it, through pytest against the emulator, and the simulated time it covered.

    .venv/bin/python benchmarks/bench_occlusion.py
"""

import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(repeats: int = 3) -> None:
    walls, calls, spans = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as run:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "tests/safety/test_occlusion.py", "-q", "-p",
                                   "no:cacheprovider", "-k", "OC-ALARM-002", "--hil-run-dir", run],
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"OC-ALARM-002 did not pass:\n{done.stdout[-2000:]}")
            record = json.loads((Path(run) / "record.json").read_text())
            calls.append(next(iter(record["tests"].values()))["phases"]["call"]["duration_s"])
            rows = list(csv.DictReader(open(next(Path(run).glob("tests/*/occlusion.csv")))))
            spans.append(float(rows[-1]["t_s"]) - float(rows[0]["t_s"]))
    wall, call = sorted(walls)[len(walls) // 2], sorted(calls)[len(calls) // 2]
    print(f"OC-ALARM-002 (0.05 U/h): {spans[0] / 3600:.1f} simulated hours from blocking to the end of the test "
          f"(plus 2 h of flow before); the test itself {call:.2f} s wall, the whole pytest run {wall:.2f} s "
          f"with interpreter and emulator start (medians of {repeats})")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "occlusion.json").write_text(json.dumps({"wall_s": walls, "call_s": calls, "blocked_span_s": spans}))


if __name__ == "__main__":
    main()
