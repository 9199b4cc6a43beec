"""The starting state through the pump's contract alone, against the real emulator process over its ptys and
without a RESET: whatever the previous test left (a basal running, a temporary basal, auto mode on, an occlusion
alarm unacknowledged) is undone and checked from STATUS."""

from dataclasses import replace
from pathlib import Path

import pytest

from hil.drivers.contracts import AutoSettings, BolusState, DoseLimits, PumpState, PumpStatus
from hil.errors import StartingStateError
from hil.procedures import starting_state
from hil.rig.config import load_rig
from hil.rig.model import InfusionSet
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



INFUSION_SET = InfusionSet(prime_U=1.0, check_U=0.5)


@pytest.mark.parametrize(("case", "need_U"), [
    ({"bolus_U": 1.0, "count": 25, "settle_s": 60}, 1.5 + 25.0),
    ({"basal_rate_U_per_h": 30, "stabilisation_h": 0, "analysis_h": 2}, 1.5 + 60.0),
    ({"basal_rate_U_per_h": 1.0, "flow_h": 1, "alarm_timeout_h": 4.5}, 1.5 + 5.5),
    ({"kink_factor": 100, "bolus_U": 10, "flow_h": 0.5, "alarm_timeout_h": 0.5}, 1.5 + 10.0),
    ({"basal_rate_U_per_h": 1.0, "days": 12, "set_change_days": 3}, 1.5 + 4 * 1.0 + 288.0),
    ({"scenario": "x", "basal_rate_U_per_h": 1.0, "user_bolus_U": 0.5}, 1.5 + 0.5),
    ({"bolus_limit_U": 5.0, "above_limit_factor": 2, "observe_min": 15, "settle_s": 60}, 1.5 + 15.0),
    ({"basal_limit_U_per_h": 1.0, "above_limit_factor": 2, "observe_min": 60}, 1.5 + 5.0),
])
def test_a_tests_need_is_reckoned_from_its_case(case, need_U):
    assert starting_state.reservoir_need(case, INFUSION_SET, None).amount_U == pytest.approx(need_U)


def test_a_case_without_a_duration_needs_the_rig_files_minimum_and_says_so():
    case = {"scenario": "fall-to-low", "basal_rate_U_per_h": 1.0}
    assert "not reckoned" in starting_state.reservoir_need(case, INFUSION_SET, None).reckoning
    need = starting_state.reservoir_need(case, INFUSION_SET, 40.0)
    assert (need.amount_U, need.reckoning.startswith("the rig file's pump.min_reservoir_U")) == (40.0, True)
    bolus = {"bolus_U": 1.0, "count": 25}  # reckoned: the minimum is not asked of it
    assert starting_state.reservoir_need(bolus, INFUSION_SET, 40.0).amount_U == 26.5


def test_a_reservoir_short_of_the_need_and_margin_is_the_rigs_error_naming_what_to_do():
    need = starting_state.reservoir_need({"bolus_U": 1.0, "count": 25}, INFUSION_SET, None)
    enough = 26.5 + starting_state.RESERVOIR_MARGIN_U
    full = PumpStatus(PumpState.SUSPENDED, 0.0, BolusState.IDLE, 0.0, enough, 0.0, (), None)
    starting_state.check_reservoir(full, need)
    with pytest.raises(StartingStateError) as info:
        starting_state.check_reservoir(replace(full, reservoir_U=enough - 0.05), need)
    assert str(info.value).startswith(f"pump: its reservoir holds {enough - 0.05:g} U, this test needs 26.5 U (")
    assert "25 bolus(es) of 1 U" in str(info.value) and f"refill the reservoir (or fit a full cartridge) to at least {enough:g} U" in str(info.value)


def test_the_starting_state_checks_the_reservoir_the_pump_reports(rig):
    held = rig.pump.status().reservoir_U
    need = starting_state.ReservoirNeed(held, "more than it holds with the margin")
    with pytest.raises(StartingStateError, match=f"its reservoir holds {held:g} U, this test needs {held:g} U"):
        starting_state.establish(rig.pump, rig.capabilities(), need)
    starting_state.establish(rig.pump, rig.capabilities(), starting_state.ReservoirNeed(held - 2.0, "what it holds"))


def test_dose_limits_a_test_left_low_are_put_back_to_the_top_of_the_claimed_ranges(rig):
    """A dose-limit test (or a user on a bench) leaves a maximum bolus of 5 U: the next test's 10-U bolus, refused
    for it, would be taken for the pump's failure."""
    pump = rig.pump
    widest = DoseLimits(30.0, 30.0)
    pump.configure_limits(DoseLimits(5.0, 1.0))
    starting_state.establish(pump, rig.capabilities(), limits=widest)
    assert pump.dose_limits() == widest
    pump.resume()
    pump.bolus(10.0)


def test_a_pump_that_confirms_other_dose_limits_than_those_set_is_the_rigs_error(rig, monkeypatch):
    pump = rig.pump
    monkeypatch.setattr(pump, "configure_limits", lambda limits: DoseLimits(25.0, limits.max_basal_U_per_h))
    with pytest.raises(StartingStateError, match=r"dose limits .* confirmed, not the"):
        starting_state.establish(pump, rig.capabilities(), limits=DoseLimits(30.0, 30.0))


def test_a_dose_limit_test_puts_back_the_limits_it_found(rig, tmp_path):
    """A bench pump keeps its limits, and one whose claims state no largest bolus or rate is not set back by the
    starting state: the procedure itself puts back what it read, also when it ends on an error."""
    from hil.evidence.recording import CsvRecording
    from hil.procedures import dose_limits
    from hil.procedures.gravimetric import Gravimetry

    found = DoseLimits(20.0, 10.0)
    rig.pump.configure_limits(found)
    starting_state.establish(rig.pump, rig.capabilities())
    with CsvRecording(tmp_path / "raw.csv", dose_limits.RECORDING_COLUMNS) as raw:
        dose_limits.bolus_above_limit(rig, Gravimetry(rig.config), 5.0, 10.0, 900.0, 60.0, raw)
        assert rig.pump.dose_limits() == found
        with pytest.raises(ZeroDivisionError), dose_limits.limits_set(rig, max_basal_U_per_h=1.0):
            assert rig.pump.dose_limits() == DoseLimits(20.0, 1.0)
            raise ZeroDivisionError
    assert rig.pump.dose_limits() == found


def test_a_dose_limit_test_that_fails_stops_the_pump_before_it_puts_back_lower_limits(rig):
    """Ended by an error with a basal at the raised maximum running: the maximum found (lower) is refused while that
    rate is in use, so delivery stops and the basal goes to 0 first."""
    from hil.procedures import dose_limits

    found = DoseLimits(20.0, 0.5)
    rig.pump.configure_limits(found)
    with pytest.raises(ZeroDivisionError), dose_limits.limits_set(rig, max_basal_U_per_h=1.0):
        rig.pump.set_basal(1.0)
        rig.pump.resume()
        raise ZeroDivisionError
    status = rig.pump.status()
    assert (rig.pump.dose_limits(), status.state, status.basal_U_per_h) == (found, PumpState.SUSPENDED, 0.0)


def test_a_fault_left_injected_is_cleared_and_a_hook_that_will_not_clear_it_is_the_rigs_error(rig, monkeypatch):
    from hil.drivers.contracts import InjectedFault
    from hil.errors import DeviceRefused

    pump = rig.pump
    pump.inject_fault(InjectedFault.RUNAWAY_MOTOR)  # left by a test that ended without its cleanup
    starting_state.establish(pump, rig.capabilities())
    moved = rig.control.inspect()["arrived_uL"] + rig.control.inspect()["stored_uL"]
    rig.clock.sleep(60.0)
    assert rig.control.inspect()["arrived_uL"] + rig.control.inspect()["stored_uL"] == pytest.approx(moved, abs=0.5)

    def refusing(fault):
        raise DeviceRefused("pump", "NOT_ALLOWED", "pump is ALARM")

    monkeypatch.setattr(pump, "inject_fault", refusing)
    with pytest.raises(StartingStateError, match="refused to clear an injected fault"):
        starting_state.establish(pump, rig.capabilities())
    monkeypatch.setattr(pump, "inject_fault", lambda fault: InjectedFault.RUNAWAY_MOTOR)  # a hook that says it acts
    with pytest.raises(StartingStateError, match="RUNAWAY_MOTOR still acts after it was cleared"):
        starting_state.establish(pump, rig.capabilities())
