"""Auto mode through the drivers, over the emulator's wire (serial and CAN): the same typed states and events on
both transports, as a suite above the drivers will see them."""

from pathlib import Path

import pytest

from hil.drivers.contracts import (
    Alarm,
    AlarmKind,
    AutoBasal,
    AutoBolus,
    AutoExit,
    AutoExitReason,
    AutoSettings,
    AutoZone,
    BolusDone,
    Capability,
    Priority,
)
from hil.errors import DeviceRefused
from hil.rig.config import load_rig
from hil.rig.rig import Rig

RIGS = Path(__file__).resolve().parents[2] / "fixtures" / "rigs"


@pytest.fixture(params=["emulator.yaml", "emulator-can.yaml"], ids=["serial", "can"])
def rig(request):
    with Rig(load_rig(RIGS / request.param)) as the_rig:
        the_rig.begin_test("auto mode")
        yield the_rig


def _timeline(rig, minutes: int) -> list:
    events = []
    for _ in range(minutes):
        rig.clock.sleep(60.0)
        events += rig.pump.events()
    return events


def test_auto_mode_decides_corrects_falls_back_and_exits_with_typed_events(rig):
    pump = rig.pump
    assert Capability.AUTO_MODE in rig.capabilities()
    with pytest.raises(DeviceRefused, match="NOT_ALLOWED"):
        pump.auto_mode(True)  # suspended after RESET: auto mode needs a running pump
    pump.resume()
    pump.set_basal(1.0)
    pump.configure_auto(AutoSettings(120, 40, 2.5, 4.0))
    state = pump.auto_mode(True)
    assert (state.on, state.basal_U_per_h, state.zone, state.iob_U) == (True, 1.0, None, 0.0)
    t0 = pump.pump_time()
    pump.cgm_input(250, 0.0)
    events = pump.events() + _timeline(rig, 5)
    decision = next(e for e in events if isinstance(e, AutoBasal))
    assert (decision.zone, decision.rate_U_per_h, decision.predicted_mg_dl) == (AutoZone.INCREASE, 2.5, 250.0)
    assert decision.at_s == pytest.approx(t0, abs=1.0)
    correction = next(e for e in events if isinstance(e, AutoBolus))
    assert correction.amount_U == pytest.approx(1.95)  # 0.6 × (250 − 120) / 40, in 0.05 U steps down
    assert BolusDone(1.95) in [e for e in events if isinstance(e, BolusDone)]
    assert pump.auto_mode().iob_U > 1.9
    events = _timeline(rig, 20)  # no CGM value for 20 min: the profile, and the alert
    fallback = next(e for e in events if isinstance(e, AutoBasal))
    assert (fallback.zone, fallback.rate_U_per_h, fallback.predicted_mg_dl) == (AutoZone.CGM_LOST, 1.0, None)
    alerts = [(e.kind, e.priority) for e in events if isinstance(e, Alarm)]
    assert alerts == [(AlarmKind.AUTO_CGM_LOST, Priority.MEDIUM)]
    events = _timeline(rig, 91)
    assert AutoExit(AutoExitReason.CGM_LOST, pytest.approx(t0 + 110 * 60, abs=1.0)) in events
    assert pump.auto_mode().on is False and pump.status().basal_U_per_h == 1.0


def test_a_stale_value_goes_with_its_age_and_decides_nothing(rig):
    pump = rig.pump
    pump.resume()
    pump.set_basal(1.0)
    pump.auto_mode(True)
    pump.cgm_input(250, 0.0, age_s=900)  # taken a quarter of an hour ago
    assert not [e for e in pump.events() + _timeline(rig, 2) if isinstance(e, (AutoBasal, AutoBolus))]
    pump.cgm_input(250, 0.0)
    assert [e.zone for e in pump.events() if isinstance(e, AutoBasal)] == [AutoZone.INCREASE]
