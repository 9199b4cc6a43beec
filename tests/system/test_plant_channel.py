"""The reference pump's own firmware run as a process on the plant channel (hil/emulator/firmware_process.py,
docs/plant-channel.md) is the pump it is inside the emulator: a subset of the campaign (a bolus series, an occlusion
during basal, a partly kinked cannula during a bolus, the site-leak detection trials, a low-glucose suspend) gets the
in-process firmware's verdicts and the very same measurements, bit for bit. The seed gives the same pump either way
(its streams drawn as World.reset draws them) and the plant's physics is exact between events (hil/emulator/bench.py),
so stepping it at the channel's messages instead of at the shared scheduler's events changes nothing measured."""

import time
from pathlib import Path

from .conftest import ROOT

SUBSET = ("DA-BOLUS-001", "OC-ALARM-001", "IF-KINK-002", "IF-LEAK-001", "HS-SBL-001")
IN_PROCESS = ROOT / "fixtures" / "rigs" / "emulator.yaml"
ACROSS_THE_CHANNEL = ROOT / "tests" / "system" / "rigs" / "emulator-firmware-process.yaml"

Results = dict[str, tuple[str, dict[str, float]]]  # requirement → its verdict and its measurements


def _run(verify, rig: Path) -> tuple[dict, float]:
    """The subset's record on a rig, and the wall seconds `hil verify` took."""
    started = time.monotonic()
    run = verify("--rig", str(rig), "-k", " or ".join(SUBSET), "--no-report", "--no-figures", timeout=300)
    wall_s = time.monotonic() - started
    assert run.code == 0, run.output[-3000:]
    return run.record, wall_s


def _results(record: dict) -> Results:
    return {rid: (test["verdict"], {m["name"]: m["value"] for m in test["measurements"]})
            for test in record["tests"].values() for rid in test["requirements"]}


def test_the_reference_firmware_across_the_channel_gets_the_in_process_verdicts_and_measurements(verify):
    in_process, in_process_s = _run(verify, IN_PROCESS)
    across, across_s = _run(verify, ACROSS_THE_CHANNEL)
    # the World builds no pump of its own when the rig names a firmware process: this run's pump was the process
    assert across["rig"]["effective_config"]["emulator"]["firmware"] == {"module": "hil.emulator.firmware_process"}
    assert "firmware" not in in_process["rig"]["effective_config"]["emulator"]
    expected, got = _results(in_process), _results(across)
    assert set(expected) == set(SUBSET), expected
    for rid in SUBSET:
        print(f"{rid}: {expected[rid][0]} in-process, {got[rid][0]} across the channel")
        for name, value in expected[rid][1].items():
            print(f"    {name}: {value!r} in-process, {got[rid][1].get(name)!r} across the channel")
    print(f"wall time: {in_process_s:.1f} s in-process, {across_s:.1f} s across the channel")
    assert got == expected
