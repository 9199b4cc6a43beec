"""A multi-day recording in rehearsal (issue 13 item 8): does memory stay flat and does the raw data reach the disk
as it goes? 72 h of basal at 1 U/h, a balance reading every 30 s (8,641 samples), through the suite's own
recording procedure (hil.procedures.delivery.record: rig clock, MT-SICS driver, CSV flushed per sample), against
the emulator running free at 10,000x real time (the rehearsal rig, sped up).

    .venv/bin/python benchmarks/bench_long_run.py

Every 6 h of rig time it samples the harness's resident memory (/proc/self/statm) and the raw file's size on disk;
it reports the peak RSS (getrusage), the RSS growth from the first to the last 6 h, the raw file's size and its
bytes per sample, and whether the file grew in step with the recording.
"""

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.rig.config import load_rig
from hil.rig.rig import Rig

HOURS, INTERVAL_S, SPEED = 72, 30.0, 10_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rig_file = Path(tmp) / "long.yaml"
        rig_file.write_text(f"extends: {Path('fixtures/rigs/emulator-rehearsal.yaml').resolve()}\n"
                            f"rig_id: long-run\nemulator: {{speed: {SPEED}}}\n")
        raw = Path(tmp) / "balance.csv"
        samples = []
        with Rig(load_rig(rig_file)) as rig, CsvRecording(raw, ["t_s", "mass_mg", "stable"]) as recording:
            rig.begin_test("long run")
            rig.pump.set_basal(1.0)
            rig.pump.resume()
            start_rig, start_wall = rig.clock.now(), time.perf_counter()
            next_probe = [start_rig]

            def probe():
                if rig.clock.now() >= next_probe[0]:
                    samples.append({"rig_h": round((rig.clock.now() - start_rig) / 3600, 2), "rss_mib": round(rss_mib(), 2),
                                    "raw_bytes": raw.stat().st_size})
                    next_probe[0] += 6 * 3600.0

            rig.clock.on_tick.append(probe)
            series = delivery.record(rig, start_rig, HOURS * 3600.0, INTERVAL_S, recording)
            wall_s = time.perf_counter() - start_wall
        size = raw.stat().st_size
    grew = all(b["raw_bytes"] > a["raw_bytes"] for a, b in zip(samples, samples[1:]))
    return {"rig_hours": HOURS, "interval_s": INTERVAL_S, "speed": SPEED, "samples": len(series.t_s),
            "wall_s": round(wall_s, 1), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_first_mib": samples[0]["rss_mib"], "rss_last_mib": samples[-1]["rss_mib"],
            "raw_bytes": size, "raw_bytes_per_sample": round(size / len(series.t_s), 1),
            "raw_grew_every_6h": grew, "probes": samples}


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, indent=1))
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "long_run.json").write_text(json.dumps(result, indent=1))
    sys.exit(0)
