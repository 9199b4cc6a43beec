"""`hil driver check`, the conformance kit, as a user runs it: every built-in driver on the emulated rigs meets
its contract (serial and CAN pump, MT-SICS balances, CAN load cell, emulator valve and site fixture), and a pump
whose STOP is not idempotent fails it with one line that says so."""

import subprocess

import pytest

from .conftest import HIL, ROOT

# every emulated rig shipped: together they hold every built-in driver (the rigs on a labgrid place need the lab
# around them: tests/system/test_lab.py checks them there)
BUILT_IN_RIGS = sorted(p.name for p in (ROOT / "fixtures" / "rigs").glob("*.yaml") if not p.name.startswith("lab-"))

def _check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HIL, "driver", "check", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("rig", BUILT_IN_RIGS)
def test_every_built_in_driver_meets_its_contract(rig):
    done = _check("--rig", str(ROOT / "fixtures" / "rigs" / rig))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    total = int(done.stdout.split("driver check: ")[1].split(" of ")[0])
    assert f"driver check: {total} of {total} checks met" in done.stdout and total >= 21 and "MISS" not in done.stdout


def test_a_pump_whose_stop_is_not_idempotent_fails_with_one_line(tmp_path):
    rig = tmp_path / "stop-not-idempotent.yaml"
    rig.write_text(f"extends: {ROOT / 'fixtures' / 'rigs' / 'emulator.yaml'}\nrig_id: stop-not-idempotent\n"
                   "emulator:\n  defects:\n    stop_not_idempotent: true\n")
    done = _check("--rig", str(rig), "--device", "pump")
    assert done.returncode == 1
    assert ("MISS pump STOP, and STOP again: STOP refused (pump refused: NOT_ALLOWED already stopped): STOP must "
            "always be accepted, and idempotent") in done.stderr.splitlines()
    # and the rig's own STOP as it closed, refused too, is said, not hidden
    assert "make safe (end of session): STOP not acknowledged: pump refused: NOT_ALLOWED already stopped" in done.stderr
    # the single-fault step before it leaves the pump stopped: the last STOP is refused as well
    assert "MISS pump STOP at the end: DeviceRefused: pump refused: NOT_ALLOWED already stopped" in done.stderr
    assert "driver check: 22 of 24 checks met, 2 missed" in done.stdout
