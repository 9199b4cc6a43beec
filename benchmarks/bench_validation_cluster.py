"""`hil validate` on Dask workers (issue 31): the same validation on this machine (`--jobs 2`), on a scheduler with
one single-thread worker, and with two, each worker its own process on loopback started in the project folder;
wall times, the speed-up of two workers over one, whether the three matrices agree (campaign for campaign, cell for
cell), and what the per-campaign time predicts for a lab of 32 workers.

    .venv/bin/python benchmarks/bench_validation_cluster.py [--only RIG ...] [--seeds N]
"""

import argparse
import json
import math
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
DEFAULT_ONLY = ["occlusion-alarm-medium", "bolus-25pct-slow", "lgs-suspend-late"]
CATALOGUE = len(list((ROOT / "fixtures" / "rigs" / "defects").glob("*.yaml"))) + 1  # and the nominal rig


def _validate(only: list[str], seeds: int, *extra: str) -> tuple[float, dict]:
    command = [str(BIN / "hil"), "validate", "--seeds", str(seeds), *extra]
    for name in only:
        command += ["--only", name]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = re.search(r"^validation: (reports/validation/\S+)$", done.stdout, re.M)
    if done.returncode != 0 or not match:
        raise SystemExit(f"hil validate failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return wall, json.loads((ROOT / match.group(1) / "detection-matrix.json").read_text())


def _judged(matrix: dict) -> tuple[list, list]:
    runs = [{k: v for k, v in run.items() if k not in ("run", "worker", "requeued")} for run in matrix["runs"]]
    return runs, matrix["cells"]


def _on_workers(workers: int, only: list[str], seeds: int) -> tuple[float, dict]:
    """A scheduler and `workers` single-thread workers, the validation on them, all stopped after."""
    with tempfile.TemporaryDirectory() as folder:
        address_file = Path(folder) / "scheduler.json"
        started = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                     "--no-dashboard", "--scheduler-file", str(address_file)], cwd=ROOT,
                                    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            while not address_file.exists():
                time.sleep(0.1)
            time.sleep(0.5)
            address = json.loads(address_file.read_text())["address"]
            for n in range(workers):
                started.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nworkers", "1",
                                                 "--nthreads", "1", "--no-dashboard", "--name", f"w{n}"], cwd=ROOT,
                                                start_new_session=True, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
            probe = f"from distributed import Client; Client('{address}').wait_for_workers({workers}, timeout=60)"
            subprocess.run([str(BIN / "python"), "-c", probe], check=True)
            return _validate(only, seeds, "--scheduler", address)
        finally:
            for process in started:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help=f"defect rigs (default: {', '.join(DEFAULT_ONLY)})")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    only = args.only or DEFAULT_ONLY
    campaigns = (len(only) + 1) * args.seeds
    local_s, local = _validate(only, args.seeds, "--jobs", "2")
    one_s, one = _on_workers(1, only, args.seeds)
    two_s, two = _on_workers(2, only, args.seeds)
    per_campaign = one_s / campaigns  # one worker runs them one after another
    figures = {
        "campaigns": campaigns,
        "local_jobs_2_s": round(local_s, 1),
        "one_worker_s": round(one_s, 1),
        "two_workers_s": round(two_s, 1),
        "speed_up_two_over_one": round(one_s / two_s, 2),
        "same_matrix": _judged(local) == _judged(one) == _judged(two),
        "workers_used_by_two": len({run["worker"] for run in two["runs"]}),
        "per_campaign_s": round(per_campaign, 1),
        "predicted_32_workers_catalogue_20_seeds_min": round(math.ceil(CATALOGUE * 20 / 32) * per_campaign / 60, 1),
    }
    print(f"{campaigns} campaigns ({', '.join(only)} and the nominal rig, {args.seeds} seed(s)):")
    print(f"  this machine, --jobs 2: {local_s:.1f} s; one worker: {one_s:.1f} s; two workers: {two_s:.1f} s "
          f"(speed-up {one_s / two_s:.2f}); the same matrix in all three: {figures['same_matrix']}")
    print(f"  {per_campaign:.1f} s a campaign on one worker: {CATALOGUE} rigs x 20 seeds on 32 such workers (one "
          f"core each, the project folder shared) ~ {figures['predicted_32_workers_catalogue_20_seeds_min']} min")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation_cluster.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
