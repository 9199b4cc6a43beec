"""CAN over slcan on a pty, against the emulator: request/response round trips per second through the CAN
pump driver, the load-cell stream rate sustained without loss, and the bare slcan round trip (python-can
send + recv of one request frame, no driver) measured in the same run.

    .venv/bin/python benchmarks/bench_can.py
"""

import json
import time
from pathlib import Path

import can

from hil.rig.config import load_rig
from hil.rig.rig import Rig
from hil.transport import can_protocol as cp

RIG = Path("fixtures/rigs/emulator-can-loadcell.yaml")


def bare_round_trips(rig, n: int) -> float:
    """The slcan floor: one PumpRequest HISTORY frame out, its PumpResponse frame back, nothing decoded."""
    bus = rig.can_hub.bus
    spec = rig.can_hub.db.get_message_by_name("PumpRequest")
    frame = can.Message(arbitration_id=spec.frame_id, data=cp.encode(spec, {"seq": 1, "opcode": "HISTORY"}),
                        is_extended_id=False)
    start = time.perf_counter()
    for _ in range(n):
        bus.send(frame)
        while (reply := bus.recv(2.0)) is not None and reply.arbitration_id != 0x101:
            pass
    return n / (time.perf_counter() - start)


def driver_round_trips(rig, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        rig.pump.history_since(0.0)
    return n / (time.perf_counter() - start)


def stream_rate(rig, simulated_s: float) -> dict:
    """Advance simulated time in 10 s steps, reading the load cell after each; every sample is checked by
    the hub's counter (a gap raises), so a completed run is a run without loss."""
    rig.scale.read()
    samples_before = rig.can_hub.last_counter("load cell") or 0
    start = time.perf_counter()
    steps = int(simulated_s / 10)
    for _ in range(steps):
        rig.clock.sleep(10.0)
        rig.scale.read()
    wall = time.perf_counter() - start
    received = (rig.can_hub.last_counter("load cell") - samples_before) % 65536
    return {"samples": received, "wall_s": wall, "samples_per_s": received / wall, "lost": 0}


def main() -> None:
    with Rig(load_rig(RIG)) as rig:
        rig.begin_test("benchmark")
        results = {
            "bare_slcan_round_trips_per_s": bare_round_trips(rig, 2000),
            "driver_round_trips_per_s": driver_round_trips(rig, 2000),
            "load_cell_stream": stream_rate(rig, 600.0),
        }
    stream = results["load_cell_stream"]
    print(f"round trips/s: bare slcan {results['bare_slcan_round_trips_per_s']:,.0f}, "
          f"CAN pump driver (HISTORY, encode + decode + counters) {results['driver_round_trips_per_s']:,.0f}")
    print(f"load cell at 10 Hz: {stream['samples']} samples in {stream['wall_s']:.2f} s wall = "
          f"{stream['samples_per_s']:,.0f} samples/s sustained, none lost (counters checked)")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "can.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
