"""The over-infusion procedure (hil/procedures/over_infusion.py) on the emulated rig: an injected fault is cleared
however the block ends, and by the rig's make-safe too; alarms from before the injection are not the fault's; a pump
that refuses the injection or whose hook says nothing acts leaves the requirement unverified, never failed."""

from pathlib import Path

import pytest

from hil.drivers.contracts import InjectedFault
from hil.errors import DeviceRefused
from hil.evidence.recording import CsvRecording
from hil.procedures import delivery
from hil.procedures.over_infusion import RECORDING_COLUMNS, FaultNotInjected, fault_injected, runaway_episode
from hil.rig.config import load_rig
from hil.rig.rig import Rig

ROOT = Path(__file__).resolve().parents[2]
UNSTOPPED = ROOT / "fixtures" / "rigs" / "defects" / "runaway-motor-not-stopped.yaml"


def _moved_uL(rig) -> float:
    truth = rig.control.inspect()
    return truth["arrived_uL"] + truth["stored_uL"]


def test_a_fault_is_cleared_when_the_block_ends_in_an_error():
    with Rig(load_rig(UNSTOPPED)) as rig:  # a runaway nothing in the pump stops
        rig.begin_test("fault cleared on an error")
        with pytest.raises(KeyboardInterrupt), fault_injected(rig, InjectedFault.RUNAWAY_MOTOR):
            rig.clock.sleep(5.0)
            raise KeyboardInterrupt
        moved = _moved_uL(rig)
        rig.clock.sleep(60.0)
        assert _moved_uL(rig) == pytest.approx(moved, abs=0.5)  # not 150 µL more a minute


def test_the_rigs_make_safe_clears_a_fault_left_injected():
    with Rig(load_rig(UNSTOPPED)) as rig:
        rig.begin_test("make safe")
        rig.pump.inject_fault(InjectedFault.RUNAWAY_MOTOR)
        rig.make_safe("a test ended")
        moved = _moved_uL(rig)
        rig.clock.sleep(60.0)
        assert _moved_uL(rig) == pytest.approx(moved, abs=0.5)


def test_alarms_before_the_injection_are_set_aside(tmp_path):
    with Rig(load_rig(UNSTOPPED)) as rig, CsvRecording(tmp_path / "r.csv", RECORDING_COLUMNS) as raw:
        rig.begin_test("an alert before the fault")
        rig.reservoir.fit(21.0)  # the prime and the coupling check take it below the 20 U alert: RESERVOIR_LOW
        delivery.prepare(rig)
        run = runaway_episode(rig, 1.0, 1800.0, 60.0, 1.0, 10.0, raw)
        rig.pump.stop()
        rig.reservoir.restore()
    assert [s.event.kind for s in run.before] == ["RESERVOIR_LOW"]
    assert run.alarms == [] and run.stopped_s is None  # the undetected runaway: no alarm of its own, still running


class _Refusing:
    def __init__(self, acting=None, refuse=True):
        self.acting, self.refuse, self.calls = acting, refuse, []

    def inject_fault(self, fault):
        self.calls.append(fault)
        if fault is not None and self.refuse:
            raise DeviceRefused("pump", "UNKNOWN_COMMAND", "INJECT")
        return self.acting if fault is not None else None

    def stop(self):
        self.calls.append("STOP")


class _RigOf:
    def __init__(self, pump):
        self.pump = pump


@pytest.mark.parametrize("pump, said", [
    (_Refusing(), "refused the injection of RUNAWAY_MOTOR (pump refused: UNKNOWN_COMMAND INJECT)"),
    (_Refusing(acting=None, refuse=False), "says no fault is acting after RUNAWAY_MOTOR was injected"),
])
def test_an_injection_not_taken_leaves_the_requirement_unverified_and_the_pump_stopped(pump, said):
    with pytest.raises(FaultNotInjected, match=said.replace("(", r"\(").replace(")", r"\)")):
        with fault_injected(_RigOf(pump), InjectedFault.RUNAWAY_MOTOR):
            pass
    assert pump.calls[-2:] == ["STOP", None]


def test_a_clear_that_fails_after_a_block_ended_well_is_the_rigs_error():
    from hil.procedures.over_infusion import FaultNotCleared

    pump = _Refusing(acting=InjectedFault.RUNAWAY_MOTOR, refuse=False)
    pump.inject_fault = lambda fault, p=pump: (p.calls.append(fault), InjectedFault.RUNAWAY_MOTOR)[1]
    with pytest.raises(FaultNotCleared, match="RUNAWAY_MOTOR still acts after it was cleared"):
        with fault_injected(_RigOf(pump), InjectedFault.RUNAWAY_MOTOR):
            pass
    assert pump.calls == [InjectedFault.RUNAWAY_MOTOR, "STOP", None]
