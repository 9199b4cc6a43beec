"""`hil validate` on Dask workers (issue 31): the same validation on this machine (`--jobs 2`), on a scheduler with
one single-thread worker, and with two, each worker its own process on loopback started in the project folder;
wall times, the speed-up of two workers over one, whether the three matrices agree (campaign for campaign, cell for
cell), and what the per-campaign time predicts for a lab of 32 workers.

    .venv/bin/python benchmarks/bench_validation_cluster.py [--only RIG ... | --every-rig] [--seeds N]
        [--full-seeds M] [--workers 1,2]

With --every-rig --seeds 20 --full-seeds 3 --workers 2 it is the catalogue over 20 seeds (docs/validation.md) on
this machine and on two local workers: about an hour and a half here.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
DEFAULT_ONLY = ["occlusion-alarm-medium", "bolus-25pct-slow", "lgs-suspend-late"]
CATALOGUE = len(list((ROOT / "fixtures" / "rigs" / "defects").glob("*.yaml"))) + 1  # and the nominal rig
EXTRA: list[str] = []  # options every validation of this benchmark takes (--full-seeds)


def _validate(only: list[str], seeds: int, *extra: str) -> tuple[float, dict]:
    command = [str(BIN / "hil"), "--json", "validate", "--seeds", str(seeds), *EXTRA, *extra]
    for name in only:
        command += ["--only", name]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    folders = [Path(e["folder"]) for e in map(json.loads, done.stdout.splitlines()) if e["event"] == "validation"]
    if done.returncode != 0 or not folders:
        raise SystemExit(f"hil validate failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return wall, json.loads((folders[0] / "detection-matrix.json").read_text())


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
    parser.add_argument("--every-rig", action="store_true", help="the whole catalogue")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--full-seeds", type=int, help="hil validate --full-seeds")
    parser.add_argument("--workers", default="1,2", help="the worker counts to run on (default 1,2)")
    args = parser.parse_args()
    only = [] if args.every_rig else args.only or DEFAULT_ONLY
    if args.full_seeds:
        EXTRA.extend(["--full-seeds", str(args.full_seeds)])
    local_s, local = _validate(only, args.seeds, "--jobs", "2")
    campaigns = len(local["runs"])
    figures: dict = {"campaigns": campaigns, "seeds": args.seeds, "full_seeds": args.full_seeds,
                     "rigs": only or "every rig", "local_jobs_2_s": round(local_s, 1), "local_ok": local["ok"]}
    print(f"{campaigns} campaigns ({', '.join(only) or 'every rig'} and the nominal rig, {args.seeds} seed(s)"
          f"{f', every test on {args.full_seeds}' if args.full_seeds else ''}): this machine, --jobs 2: "
          f"{local_s:.1f} s ({local_s / 60:.1f} min), matrix ok: {local['ok']}")
    on = {}
    for workers in (int(n) for n in args.workers.split(",") if n):
        on[workers] = _on_workers(workers, only, args.seeds)
        figures[f"workers_{workers}_s"] = round(on[workers][0], 1)
        figures[f"workers_{workers}_same_matrix"] = _judged(on[workers][1]) == _judged(local)
        figures[f"workers_{workers}_used"] = len({run["worker"] for run in on[workers][1]["runs"]})
        print(f"  {workers} worker(s): {on[workers][0]:.1f} s, the same matrix as --jobs 2: "
              f"{figures[f'workers_{workers}_same_matrix']}, workers used: {figures[f'workers_{workers}_used']}")
    if 1 in on and 2 in on:
        figures["speed_up_two_over_one"] = round(on[1][0] / on[2][0], 2)
        print(f"  speed-up of two workers over one: {on[1][0] / on[2][0]:.2f}")
    if 1 in on and not args.full_seeds:
        per_campaign = on[1][0] / campaigns  # one worker runs them one after another
        figures["per_campaign_s"] = round(per_campaign, 1)
        minutes = math.ceil(CATALOGUE * 20 / 32) * per_campaign / 60
        figures["predicted_32_workers_catalogue_20_seeds_min"] = round(minutes, 1)
        print(f"  {per_campaign:.1f} s a campaign on one worker: {CATALOGUE} rigs x 20 seeds on 32 such workers (one "
              f"core each, the project folder shared) ~ {minutes:.1f} min")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "validation_cluster" + (f"_seeds{args.seeds}" if args.seeds > 1 else "") + ("_all" if not only else "")
    (out / f"{name}.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
