"""The labgrid path's cost (docs/lab.md): per balance sample, and per campaign with one place and with two.

    sudo .venv/bin/python benchmarks/bench_lab.py [--samples N] [-k EXPR]

In a private network namespace (tests/system/labgrid_lab.py: a coordinator, two emulated benches, each exported by
labgrid's exporter through ser2net):
1. Per balance sample (MtSicsBalance.read: write, deadline read, parse), N samples each way: on the emulator's pty
   directly; over RFC 2217 through the exporter's ser2net, as `hil verify` reaches a place; and over RFC 2217
   through a ser2net of this benchmark's own with `chardelay: false` (what ser2net's wait for more characters
   costs: labgrid's exporter leaves it at ser2net's default).
2. The campaign -k EXPR (default the lab system test's subset) with `hil verify`: on the direct emulator rig, with
   `--places bench-a` (one unit), `--places bench-a,bench-b` (two units at once: two processes on the machine's two
   cores) and `--places bench-a,bench-b --split` (the tests spread over the two).
Prints one JSON document, also written to benchmarks/results/bench_lab.json.
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hil.drivers.mtsics import MtSicsBalance  # noqa: E402
from hil.rig import lab  # noqa: E402
from tests.system.labgrid_lab import BIN, COORDINATOR, Lab, missing  # noqa: E402

SUBSET = "DA-BOLUS-002 or OC-ALARM-003"
RIGS = {"bench-a": "fixtures/rigs/lab-emulator.yaml", "bench-b": "fixtures/rigs/lab-emulator-b.yaml"}


def per_sample(port: str, samples: int) -> dict:
    balance = MtSicsBalance(port, time.monotonic, timeout_s=2.0)
    balance.identify()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        balance.read()
        times.append(time.perf_counter() - started)
    balance.close()
    return {
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "p95_ms": round(statistics.quantiles(times, n=20)[-1] * 1e3, 3),
        "samples": samples,
    }


def _own_ser2net(pty: str) -> tuple[subprocess.Popen, str]:
    """ser2net on the pty as labgrid's exporter starts it (its -Y lines), plus `chardelay: false`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = ["ser2net", "-d", "-n", "-Y", f"connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,{port}",
               "-Y", f"  connector: serialdev(nouucplock=true),{pty},{lab.EXPORTED_SPEED}n81,local",
               "-Y", "  options:", "-Y", "    max-connections: 10", "-Y", "    chardelay: false"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return process, lab.serial_url("127.0.0.1", port)


def inner_samples(exporter_config: Path, samples: int) -> dict:
    """Part 1, run inside the lab's namespace: the pty, then the place's port, then ser2net without chardelay."""
    import yaml

    pty = yaml.safe_load(exporter_config.read_text())["bench-a"]["balance"]["port"]
    out = {"pty": per_sample(pty, samples)}
    acquisition = lab.acquire(COORDINATOR, "bench-a")
    try:
        out["labgrid_rfc2217"] = per_sample(acquisition.url("@labgrid:balance"), samples)
    finally:
        lab.release(acquisition)
    time.sleep(2.5)  # the exporter stops its ser2net on release (and lets go of the pty)
    process, url = _own_ser2net(pty)
    try:
        out["rfc2217_without_chardelay"] = per_sample(url, samples)
    finally:
        process.terminate()
        process.wait(timeout=10)
    for way in ("labgrid_rfc2217", "rfc2217_without_chardelay"):
        out[way]["overhead_ms"] = round(out[way]["median_ms"] - out["pty"]["median_ms"], 3)
    return out


def campaign(lab_: Lab, places: list[str], k: str, split: bool = False) -> dict:
    """One `hil verify` of the campaign: on the direct rig (no places), or with --places (and --split)."""
    if places:
        command = ["ip", "netns", "exec", lab_.netns, str(BIN / "hil"), "--json", "verify", "--rig", RIGS["bench-a"],
                   "--places", ",".join(places), *(["--split"] if split else []), "-k", k, "--no-report"]
    else:
        command = [str(BIN / "hil"), "verify", "-k", k, "--no-report"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    if places:  # every unit ran its tests to PASS (a requirement asking for more units than these is not PASS)
        (run_dir,) = [Path(e["folder"]) for e in map(json.loads, done.stdout.splitlines()) if e["event"] == "run"]
        record = json.loads((run_dir / "record.json").read_text())
        assert all(unit["exit_status"] == 0 for unit in record["units"].values()), done.stderr[-3000:]
    else:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"places": places or ["(direct pty rig)"], "split": split, "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("-k", default=SUBSET)
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)  # part 1, inside the namespace
    options = parser.parse_args()
    if options.inner:
        print(json.dumps(inner_samples(options.inner, options.samples)))
        return
    if missing():
        sys.exit(f"bench_lab: {missing()}")
    with tempfile.TemporaryDirectory() as folder:
        the_lab = Lab(Path(folder))
        try:
            for place in RIGS:
                the_lab.bench(place)
            inner = the_lab.run(sys.executable, __file__, "--inner", str(Path(folder) / "exporter-bench-a.yaml"),
                                "--samples", str(options.samples), check=True)
            result = {
                "per_balance_sample": json.loads(inner.stdout),
                "campaign": {"k": options.k, "runs": [
                    campaign(the_lab, places, options.k, split)
                    for places, split in (([], False), (["bench-a"], False), (["bench-a", "bench-b"], False),
                                          (["bench-a", "bench-b"], True))]},
            }
        finally:
            the_lab.close()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_lab.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
