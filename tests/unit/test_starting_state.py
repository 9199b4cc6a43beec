"""The starting state through the pump's contract alone, against the real emulator process over its ptys and
without a RESET: whatever the previous test left (a basal running, a temporary basal, auto mode on, an occlusion
alarm unacknowledged) is undone and checked from STATUS."""

from pathlib import Path

import pytest

from hil.drivers.contracts import AutoSettings, BolusState, PumpState
from hil.errors import StartingStateError
from hil.procedures import starting_state
from hil.rig.config import load_rig
from hil.rig.rig import Rig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rig():
    with Rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator-no-reset.yaml")) as the_rig:
        the_rig.begin_test("starting state")  # reset_per_test false: no RESET
        yield the_rig


def test_what_a_test_left_running_is_undone_and_checked(rig):
    pump = rig.pump
    pump.resume()
    pump.set_basal(2.0)
    pump.configure_auto(AutoSettings(110.0, 50.0, 3.0, 5.0))
    pump.auto_mode(True)
    rig.occlusion_valve.close()
    pump.bolus(5.0)
    rig.clock.wait_for(lambda: pump.status().state is PumpState.ALARM, timeout=3600.0, poll=10.0)
    rig.occlusion_valve.open()
    assert pump.status().active_alarms
    status = starting_state.establish(pump, rig.capabilities())
    assert (status.state, status.bolus, status.active_alarms, status.basal_U_per_h) == (
        PumpState.SUSPENDED, BolusState.IDLE, (), 0.0)
    assert not pump.auto_mode().on
    pump.set_temp_basal(4.0, 60)  # a temporary basal left by the next "test" (auto mode refuses one)
    starting_state.establish(pump, rig.capabilities())
    pump.events()  # what the previous "tests" raised is taken, as the rig's event polling would
    pump.resume()
    before = pump.status().delivered_U
    rig.clock.sleep(1800.0)
    assert pump.status().delivered_U == before  # resumed, and nothing runs: no basal, no temporary basal


def test_a_pump_still_showing_an_alarm_after_its_acknowledgement_is_the_rigs_error(rig, monkeypatch):
    pump = rig.pump
    monkeypatch.setattr(pump, "_acknowledge", lambda alarm_id: None)  # a pump that ignores the acknowledgement
    rig.occlusion_valve.close()
    pump.resume()
    pump.bolus(5.0)
    rig.clock.wait_for(lambda: pump.status().state is PumpState.ALARM, timeout=3600.0, poll=10.0)
    with pytest.raises(StartingStateError, match="still active after acknowledgement"):
        starting_state.establish(pump, rig.capabilities())


def test_an_event_of_the_previous_test_is_never_taken_for_this_ones(rig):
    """An occlusion alarm left on the link by the previous test, taken by this test's poller, would time this test's
    alarm at zero: a false PASS. The starting state sets such events aside."""
    pump = rig.pump
    rig.occlusion_valve.close()
    pump.resume()
    pump.bolus(5.0)
    rig.clock.wait_for(lambda: pump.status().state is PumpState.ALARM, timeout=3600.0, poll=10.0)
    rig.occlusion_valve.open()
    starting_state.establish(pump, rig.capabilities())
    assert pump.events() == []

