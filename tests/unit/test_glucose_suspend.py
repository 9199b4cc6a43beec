"""The emulated low-glucose suspend against the published rules, driven by CGM values every 5 min."""

import pytest

from hil.analysis import cgm_trend
from hil.drivers.contracts import PumpState, Suspended, SuspendReason
from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator.world import World
from hil.transport.frames import Frame

CGM_INTERVAL_S = 300.0


class Pump:
    def __init__(self, low_limit=60, before_low=True, on_low=True, send_trend=False, **defects):
        self.send_trend, self.sent = send_trend, []  # with send_trend each value carries the CGM's trend
        self.events = []
        config = EmulatorConfig(pump=PumpParams(slack_U=0.0), defects=Defects(**defects))
        self.world = World(config, lambda kind, fields: self.events.append((kind, fields)), lambda line: None)
        for word, *args in [("RESUME",), ("BASAL", "1.000"),
                            ("SET", f"low_limit={low_limit}", f"before_low={int(before_low)}", f"on_low={int(on_low)}")]:
            self.world.pump.handle(Frame("1", word, tuple(args)))

    def feed(self, trace):
        """One CGM value, then 5 min; returns the pump state after each value."""
        states = []
        for glucose in trace:
            self.sent.append((self.world.scheduler.now, glucose))
            trend = (f"{cgm_trend.trend(*zip(*self.sent)):.1f}",) if self.send_trend else ()
            self.world.pump.handle(Frame("1", "CGM", (f"{glucose:.0f}", *trend)))
            states.append(self.world.pump.state)
            self.world.advance(CGM_INTERVAL_S)
        return states

    def kinds(self, kind):
        return [f for k, f in self.events if k == kind]


FALL = [160, 150, 140, 130, 120, 110, 100, 90]  # −2 mg/dL/min


@pytest.mark.parametrize("send_trend", [False, True], ids=["own-fit", "cgm-trend"])
def test_suspend_before_low_on_the_first_value_that_meets_both_conditions(send_trend):
    pump = Pump(send_trend=send_trend)
    states = pump.feed(FALL)
    # at 130 mg/dL (≤ 60 + 70) the 30-min prediction is 70 (≤ 60 + 20): suspended on that value
    assert states.index("AUTO_SUSPENDED") == FALL.index(130)
    assert pump.kinds("SUSPEND")[0]["reason"] == "BEFORE_LOW"


@pytest.mark.parametrize("send_trend", [False, True], ids=["own-fit", "cgm-trend"])
def test_no_suspend_before_low_when_the_prediction_stays_above_the_limit_plus_20(send_trend):
    pump = Pump(send_trend=send_trend)
    assert "AUTO_SUSPENDED" not in pump.feed([140, 135, 130, 125, 120, 115])  # −1/min: predicted 85 at the end


def test_suspend_on_low_raises_a_high_alarm():
    pump = Pump(before_low=False)
    states = pump.feed([80, 70, 60, 55])
    assert states.index("AUTO_SUSPENDED") == 2
    (alarm,) = pump.kinds("ALARM")
    assert (alarm["kind"], alarm["priority"]) == ("LOW_GLUCOSE", "HIGH")


@pytest.mark.parametrize("send_trend", [False, True], ids=["own-fit", "cgm-trend"])
def test_minimum_30_min_then_resume_on_recovery(send_trend):
    pump = Pump(send_trend=send_trend)
    states = pump.feed(FALL[:4] + [140, 150, 160, 170, 180, 190, 200])  # suspended at 130, rebounds at once
    suspended = states.index("AUTO_SUSPENDED")
    resumed = states.index("RUNNING", suspended)
    assert (resumed - suspended) * CGM_INTERVAL_S >= 30 * 60  # not before the minimum
    assert pump.kinds("RESUME")[0]["reason"] == "GLUCOSE"


def test_maximum_two_hours_then_resume_and_alert():
    pump = Pump()
    pump.feed(FALL[:4] + [70] * 30)
    (resume,) = pump.kinds("RESUME")
    suspend = pump.kinds("SUSPEND")[0]
    assert resume["reason"] == "MAX_DURATION" and float(resume["t"]) - float(suspend["t"]) == pytest.approx(7200.0)
    assert any(a["kind"] == "SUSPEND_MAX_DURATION" for a in pump.kinds("ALARM"))


def test_cgm_loss_while_suspended_resumes_the_basal_after_20_min_and_alerts():
    pump = Pump()
    pump.feed(FALL[:4])
    pump.world.advance(3600.0)
    (resume,) = pump.kinds("RESUME")
    assert resume["reason"] == "CGM_LOST" and pump.world.pump.state == "RUNNING"
    assert any(a["kind"] == "CGM_LOST" for a in pump.kinds("ALARM"))


def test_no_delivery_while_suspended():
    pump = Pump()
    pump.feed(FALL[:4])
    delivered = pump.world.pump.delivered_U
    pump.feed([70] * 6)
    assert pump.world.pump.delivered_U == delivered


def test_the_firmware_predicts_from_the_trend_it_is_sent():
    # One value and no history: only a received trend can make a prediction. 120 falling at 3 mg/dL/min is
    # predicted at 30 mg/dL (≤ 80): suspended at once; sent as flat, the same value is predicted at 120.
    falling, flat = Pump(), Pump()
    falling.world.pump.handle(Frame("1", "CGM", ("120", "-3.0")))
    flat.world.pump.handle(Frame("1", "CGM", ("120", "0.0")))
    assert (falling.world.pump.state, flat.world.pump.state) == ("AUTO_SUSPENDED", "RUNNING")
    # A trace falling at 2 mg/dL/min announced as flat is not suspended before low: the trend is trusted.
    announced_flat = Pump()
    for glucose in FALL[:5]:
        announced_flat.world.pump.handle(Frame("1", "CGM", (f"{glucose}", "0.0")))
        announced_flat.world.advance(CGM_INTERVAL_S)
    assert announced_flat.world.pump.state == "RUNNING"


def test_a_value_without_a_trend_gets_the_firmwares_own_fit():
    own, sent = Pump(), Pump(send_trend=True)
    own.feed(FALL[:4])
    sent.feed(FALL[:4])
    assert own.world.pump.cgm[1] is None and sent.world.pump.cgm[1] == -2.0
    assert own.world.pump.lgs.predicted() == pytest.approx(sent.world.pump.lgs.predicted(-2.0)) == 70.0


@pytest.mark.parametrize("defect, check", [
    ("lgs_suspend_one_interval_late", lambda p, s: s.index("AUTO_SUSPENDED") == FALL.index(130) + 1),
    ("lgs_ignores_prediction", lambda p, s: "AUTO_SUSPENDED" not in s),
    ("lgs_motor_keeps_stepping", lambda p, s: "AUTO_SUSPENDED" in s and p.world.pump.delivered_U > 0.6),  # 13 strokes, not 5
])
@pytest.mark.parametrize("send_trend", [False, True], ids=["own-fit", "cgm-trend"])
def test_seeded_defects(defect, check, send_trend):
    pump = Pump(send_trend=send_trend, **{defect: True})
    states = pump.feed(FALL)
    assert check(pump, states)


@pytest.mark.parametrize("send_trend", [False, True], ids=["own-fit", "cgm-trend"])
def test_seeded_never_auto_resumes_still_stops_at_two_hours(send_trend):
    pump = Pump(send_trend=send_trend, lgs_never_auto_resumes=True)
    pump.feed(FALL[:4] + [140, 160, 180, 200] + [200] * 24)
    assert [r["reason"] for r in pump.kinds("RESUME")] == ["MAX_DURATION"]


def test_seeded_no_maximum_duration_stays_suspended():
    pump = Pump(lgs_no_max_duration=True)
    pump.feed(FALL[:4] + [70] * 30)
    assert not pump.kinds("RESUME") and pump.world.pump.state == "AUTO_SUSPENDED"


def test_seeded_block_after_a_bolus_keeps_the_pump_running_into_the_low_until_it_is_stopped():
    pump = Pump(lgs_blocked_after_bolus=True)
    assert "AUTO_SUSPENDED" in Pump(lgs_blocked_after_bolus=True).feed(FALL)  # no bolus: the rules work
    pump.world.pump.handle(Frame("1", "BOLUS", ("1.0",)))
    assert "AUTO_SUSPENDED" not in pump.feed(FALL + [60, 50])
    for word in ("STOP", "RESUME"):
        pump.world.pump.handle(Frame("1", word, ()))
    assert "AUTO_SUSPENDED" in pump.feed(FALL)


def test_a_bolus_does_not_block_the_nominal_suspend():
    pump = Pump()
    pump.world.pump.handle(Frame("1", "BOLUS", ("1.0",)))
    assert "AUTO_SUSPENDED" in pump.feed(FALL)


def test_the_same_rules_over_the_wire_on_both_transports():
    from pathlib import Path

    from hil.rig.config import load_rig
    from hil.rig.rig import Rig

    rigs = Path(__file__).resolve().parents[2] / "fixtures" / "rigs"
    for rig_file in ("emulator.yaml", "emulator-can.yaml"):
        with Rig(load_rig(rigs / rig_file)) as rig:
            rig.begin_test("suspend")
            rig.pump.resume()
            rig.pump.set_basal(1.0)
            rig.pump.configure_suspend(60, before_low=True, on_low=True)
            sent = []
            for glucose in FALL[:4]:
                sent.append((len(sent) * CGM_INTERVAL_S, glucose))
                rig.pump.cgm_input(glucose, cgm_trend.trend(*zip(*sent)))
                rig.clock.sleep(CGM_INTERVAL_S)
            assert rig.pump.status().state is PumpState.AUTO_SUSPENDED
            (event,) = [e for e in rig.pump.events() if isinstance(e, Suspended)]
            assert event.reason is SuspendReason.BEFORE_LOW
