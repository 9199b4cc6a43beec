"""The cost of one campaign, the unit of `hil validate` and of most of CI: `hil verify --no-report` on the nominal
emulated rig (every requirement), wall time and the CPU time of its whole process tree (hil, its pytest, the
emulator), and the start-up of a `hil` command (`import hil.cli`). With --baseline, the same from another checkout
(its own .venv and rig), run in turn with this one (A B, B A, A B ...), so both see the same machine.

    .venv/bin/python benchmarks/bench_campaign.py [--repeats 3] [--baseline ../other-checkout] [--rig RIG]

--rig: another rig file than the nominal one, relative to each checkout (fixtures/rigs/emulator-can.yaml: the CAN
campaign).

CI runs about 40 campaigns (the validation's 32 rigs, the CAN rig's, the seeds test's and the lab's), so a second
of CPU per campaign is about 20 s of CI on two cores.
"""

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tree_cpu(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of the command's whole process tree, as a wrapper process accounts its
    reaped descendants (RUSAGE_CHILDREN)."""
    wrapper = [
        str(cwd / ".venv" / "bin" / "python"),
        "-c",
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); print(u.ru_utime + u.ru_stime, file=sys.stderr)",
        *command,
    ]
    start = time.perf_counter()
    done = subprocess.run(wrapper, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, float(done.stderr.strip().splitlines()[-1])


def measure(checkout: Path, rig: str) -> dict[str, float]:
    python, hil = checkout / ".venv" / "bin" / "python", checkout / ".venv" / "bin" / "hil"
    startup = _tree_cpu([str(python), "-c", "import hil.cli"], checkout)[0]
    wall, cpu = _tree_cpu([str(hil), "verify", "--no-report", "--rig", rig], checkout)
    return {"campaign_wall_s": wall, "campaign_cpu_s": cpu, "hil_import_s": startup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout, set up (its .venv), to run in turn")
    parser.add_argument("--rig", default="fixtures/rigs/emulator.yaml", help="the rig file, from each checkout's root")
    args = parser.parse_args()
    checkouts = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for repeat in range(args.repeats):
        # which goes first alternates: the first of a pair ran 2 to 5 CPU-s slower than the second in both orders
        # (HEAD and 9f050c4 swapped, 2026-12-07), a bias that a fixed order would put on one checkout
        for name, checkout in list(checkouts.items())[:: 1 if repeat % 2 == 0 else -1]:
            runs[name].append(measure(checkout, args.rig))
    print(f"one campaign (hil verify --no-report --rig {args.rig}), medians of {args.repeats}:")
    for name, figures in runs.items():
        median = {key: statistics.median(run[key] for run in figures) for key in figures[0]}
        print(
            f"  {name:8} {checkouts[name]}: wall {median['campaign_wall_s']:.1f} s, "
            f"CPU {median['campaign_cpu_s']:.1f} s (hil, pytest, emulator); "
            f"import hil.cli {median['hil_import_s']:.2f} s"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "campaign.json").write_text(
        json.dumps({name: {"checkout": str(checkouts[name]), "runs": runs[name]} for name in checkouts}, indent=1)
    )


if __name__ == "__main__":
    main()
