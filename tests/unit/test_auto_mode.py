"""The emulated auto mode (hil/emulator/auto_mode.py) against its published rules: oref0's insulin-on-board curve
against its own activity curve integrated, Control-IQ's zones at their boundaries, oref0's caps, the CGM-lost
fallback and exit, and over generated CGM traces the invariants a verification suite will judge (never above the
caps, never an increase while predicted low, corrections at most one an hour), each shown to fail with its seeded
defect."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator import auto_mode
from hil.emulator.auto_mode import AutoMode, AutoSettings, Zone, iob_fraction
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

CGM_INTERVAL_S = 300.0
PROFILE = 1.0  # U/h


def _activity(minutes: float, peak: float = 75.0, dia: float = 300.0) -> float:
    """oref0's exponential activity curve (lib/iob/calculate.js, activityContrib for 1 U), a fraction per minute."""
    tau = peak * (1 - peak / dia) / (1 - 2 * peak / dia)
    a = 2 * tau / dia
    s = 1 / (1 - a + (1 + a) * math.exp(-dia / tau))
    return s / tau**2 * minutes * (1 - minutes / dia) * math.exp(-minutes / tau)


@pytest.mark.parametrize("minutes", [0, 15, 60, 75, 120, 180, 240, 299])
def test_insulin_on_board_is_one_less_the_activity_so_far(minutes):
    absorbed, _ = integrate.quad(_activity, 0, minutes)
    assert iob_fraction(minutes) == pytest.approx(1 - absorbed, abs=1e-9)


def test_insulin_on_board_falls_from_all_to_none_over_the_duration_of_action():
    values = [iob_fraction(m) for m in range(0, 301, 5)]
    assert values[0] == 1.0 and values[-1] == 0.0 and all(a >= b for a, b in zip(values, values[1:], strict=False))


def _rules(**defects) -> AutoMode:
    return AutoMode(
        AutoSettings(target=110, isf=50, max_basal=3.0, max_iob=5.0), lambda: PROFILE, 0.05, Defects(**defects), []
    )


@pytest.mark.parametrize(
    "predicted, zone, rate",
    [
        (70.0, Zone.STOP, 0.0),
        (60.0, Zone.STOP, 0.0),
        (100.0, Zone.REDUCE, 0.6),  # profile + 2 × (100 − 110) / 50 = 0.6 U/h
        (112.4, Zone.REDUCE, 1.0),  # 1.096, never above the profile while reducing
        (112.5, Zone.PROFILE, 1.0),
        (160.0, Zone.PROFILE, 1.0),
        (170.0, Zone.INCREASE, 3.0),  # 1 + 2 × 60 / 50 = 3.4, capped at min(3, 3 × 1, 4 × 1)
        (130.1, Zone.PROFILE, 1.0),
    ],
)
def test_control_iq_zones_on_the_prediction_with_oref0_sizes(predicted, zone, rate):
    decision = _rules().decide(0.0, 150.0, predicted)
    assert (decision.zone, decision.rate) == (zone, pytest.approx(rate))


def test_a_correction_is_60_percent_of_the_computed_one_at_most_once_an_hour():
    rules = _rules()
    first = rules.decide(0.0, 200.0, 210.0)
    assert first.correction == pytest.approx(1.2)  # 0.6 × (210 − 110) / 50, nothing on board
    rules.last_correction_s = 0.0
    assert rules.decide(3599.0, 200.0, 210.0).correction == 0.0
    assert rules.decide(3600.0, 200.0, 210.0).correction > 0.0
    assert rules.decide(3600.0, 179.0, 179.0).correction == 0.0  # below 180: none


def test_insulin_on_board_is_counted_and_capped_by_max_iob():
    rules = _rules()
    rules.doses.append((0.0, 5.0))  # a 5 U bolus just now: IOB = max_iob
    decision = rules.decide(0.0, 250.0, 250.0)
    assert decision.iob == pytest.approx(5.0) and decision.correction == 0.0 and decision.rate == PROFILE
    ignoring = _rules(aid_ignores_iob=True)
    ignoring.doses.append((0.0, 5.0))
    assert ignoring.decide(0.0, 250.0, 250.0).correction > 1.0  # the seeded defect stacks a correction on it


def test_the_seeded_units_error_makes_each_correction_ten_times_larger():
    assert _rules(aid_correction_scale=10).decide(0.0, 200.0, 210.0).correction == pytest.approx(12.0)


def test_the_seeded_sign_error_adds_the_insulin_on_board_to_the_eventual_glucose():
    """After a meal bolus at 170 mg/dL predicted, the insulin on board asks for less (the profile); with the seeded
    sign error it asks for more, up to what max_iob leaves."""
    nominal, added = _rules(), _rules(aid_iob_added_to_eventual=True)
    nominal.doses.append((0.0, 2.0))
    added.doses.append((0.0, 2.0))
    assert nominal.decide(0.0, 150.0, 170.0).rate == PROFILE  # 170 - 2 × 50 = 70: nothing more required
    assert added.decide(0.0, 150.0, 170.0).rate == 3.0  # 170 + 2 × 50: up to the cap


def _predictions(values: list[float], trend_per_min: float, rules: AutoMode | None = None) -> float:
    """The rules' prediction at the last of values (one every 5 min), the CGM's trend given with it."""
    rules = rules or _rules()
    predicted = math.nan
    for k, value in enumerate(values):
        predicted = rules.predicted(k * CGM_INTERVAL_S, value, value + 30.0 * trend_per_min)
    return predicted


def test_the_prediction_takes_the_lower_of_the_trend_and_the_average_change_since_20_to_40_min_ago():
    # a noise excursion: flat at 120 for 40 min, then 15 min up to 150 (the CGM's trend +2 mg/dL/min)
    values = [120.0] * 9 + [130.0, 140.0, 150.0]
    # oref0's long average: (150 - 120) over 20, 25, 30, 35 and 40 min, 1.0625 mg/dL/min on average
    long_average = sum(30.0 / m for m in (20, 25, 30, 35, 40)) / 5
    assert _predictions(values, 2.0) == pytest.approx(150.0 + 30.0 * long_average)
    # falling 1 mg/dL/min, the CGM's trend steeper (-2): the trend's is the lower one and is kept, so a low
    # prediction is never raised
    falling = [200.0 - 5.0 * k for k in range(12)]
    assert _predictions(falling, -2.0) == pytest.approx(falling[-1] - 60.0)
    # too soon for values 20-40 min old: the trend's alone
    assert _predictions([120.0, 130.0, 140.0], 2.0) == pytest.approx(200.0)


# -- the pump in auto mode, over its protocol ----------------------------------------------------------------
class Pump:
    def __init__(self, **defects):
        self.events: list[tuple[str, dict]] = []
        config = EmulatorConfig(pump=PumpParams(slack_U=0.0), defects=Defects(**defects))
        self.world = World(config, lambda kind, fields: self.events.append((kind, fields)), lambda line: None)
        for request in [
            ("RESUME",),
            ("BASAL", f"{PROFILE:.3f}"),
            ("SET", "target=110", "isf=50", "max_basal=3", "max_iob=5"),
        ]:
            self.cmd(*request)

    def cmd(self, word, *args):
        return dict(field.split("=", 1) for field in self.world.pump.handle(Frame("1", word, tuple(args))))

    def feed(self, trace, age_s: float = 0.0):
        """One CGM value (with its trend over the last 5 min) every 5 min; the automatic rate after each."""
        rates = []
        for i, glucose in enumerate(trace):
            trend = (glucose - trace[i - 1]) / 5.0 if i else 0.0
            self.cmd("CGM", f"{glucose:.0f}", f"{trend:.1f}", f"{age_s:g}")
            rates.append(self.world.pump.basal_rate)
            self.world.advance(CGM_INTERVAL_S)
        return rates

    def of(self, kind):
        return [fields for k, fields in self.events if k == kind]


def test_auto_mode_needs_a_running_pump_and_no_temporary_basal():
    pump = Pump()
    pump.cmd("SUSPEND")
    with pytest.raises(Refused, match="pump is SUSPENDED"):
        pump.cmd("AUTO", "ON")
    pump.cmd("RESUME")
    pump.cmd("TEMPBASAL", "0.500", "30")
    with pytest.raises(Refused, match="temporary basal"):
        pump.cmd("AUTO", "ON")
    pump.cmd("TEMPBASAL", "0", "0")
    assert pump.cmd("AUTO", "ON")["auto"] == "ON"
    with pytest.raises(Refused, match="AUTO OFF first"):
        pump.cmd("TEMPBASAL", "0.500", "30")
    assert pump.cmd("AUTO", "OFF") == {"auto": "OFF", "basal": "1.000", "zone": "-", "iob": "0.000"}
    assert pump.of("AUTO_EXIT")[-1]["reason"] == "USER"


def test_high_glucose_raises_the_basal_and_corrects_then_falling_glucose_stops_it():
    pump = Pump()
    pump.cmd("AUTO", "ON")
    rates = pump.feed([220, 220, 220])
    assert rates[0] == pytest.approx(3.0) and pump.of("AUTO_BASAL")[0]["zone"] == "INCREASE"
    (bolus,) = pump.of("AUTO_BOLUS")  # one correction: the next is an hour away
    assert float(bolus["amount"]) == pytest.approx(1.3)  # 60 % of (220 − 110) / 50 = 1.32, in 0.05 U steps down
    # the bolus stroke by stroke (0.05 U every 2 s at 1.5 U/min), each 5-min period's basal beyond the profile at its
    # middle
    on_board = sum(0.05 * iob_fraction((900 - 2 * k) / 60) for k in range(26)) + sum(
        (r - PROFILE) / 12 * iob_fraction(12.5 - 5 * k) for k, r in enumerate(rates)
    )
    assert rates[1] < rates[0]  # the bolus on board takes its share off the increase
    assert float(pump.cmd("AUTO")["iob"]) == pytest.approx(on_board, abs=0.001)  # the bolus, the raised basal
    rates = pump.feed([150, 120, 95, 80])  # falling 6 mg/dL/min: predicted far below 70
    assert rates[-1] == 0.0 and pump.of("AUTO_BASAL")[-1]["zone"] == "STOP"


def test_no_correction_within_an_hour_of_the_users_bolus():
    """Control-IQ: none within 60 min of the start, cancellation or completion of a food bolus. A 0.5 U bolus at
    1.5 U/min ends 20 s after it starts; on a steady 300 mg/dL the first correction then waits for the CGM value an
    hour after that end (ISF 20: a correction is still wanted then, with the raised basal on board). With the seeded
    defect it comes at the first value once the bolus is over, on top of it."""
    for defects, first_at in (({}, 65), ({"aid_corrects_after_user_bolus": True}, 5)):
        pump = Pump(**defects)
        pump.cmd("SET", "isf=20")
        pump.cmd("AUTO", "ON")
        pump.cmd("BOLUS", "0.500")
        pump.feed([300] * 15)
        corrections = [float(b["t"]) for b in pump.of("AUTO_BOLUS")]
        assert corrections and corrections[0] == pytest.approx(first_at * 60.0), defects
    cancelled = Pump()
    cancelled.cmd("SET", "isf=20")
    cancelled.cmd("AUTO", "ON")
    cancelled.cmd("BOLUS", "1.000")
    cancelled.world.advance(20.0)
    cancelled.cmd("CANCEL")  # the hour runs from the cancellation
    cancelled.world.advance(CGM_INTERVAL_S - 20.0)
    cancelled.feed([300] * 13)
    assert float(cancelled.of("AUTO_BOLUS")[0]["t"]) == pytest.approx(65 * 60.0)


def test_cgm_lost_falls_back_to_the_profile_with_an_alert_then_exits():
    pump = Pump()
    pump.cmd("AUTO", "ON")
    pump.feed([220])
    pump.world.advance(auto_mode.CGM_MISSING_S - CGM_INTERVAL_S + 1)
    assert pump.world.pump.basal_rate == PROFILE and pump.of("AUTO_BASAL")[-1]["zone"] == "CGM_LOST"
    assert [(a["kind"], a["priority"]) for a in pump.of("ALARM")] == [("AUTO_CGM_LOST", "MEDIUM")]
    pump.world.advance(auto_mode.EXIT_AFTER_SAFE_BASAL_S)
    assert pump.of("AUTO_EXIT")[-1]["reason"] == "CGM_LOST" and pump.cmd("AUTO")["auto"] == "OFF"
    assert ("AUTO_EXIT", "MEDIUM") in [(a["kind"], a["priority"]) for a in pump.of("ALARM")]


def test_a_stale_value_is_no_value():
    pump = Pump()
    pump.cmd("AUTO", "ON")
    pump.feed([220])
    pump.feed([220] * 5, age_s=900)  # the CGM took them a quarter of an hour before they came
    assert pump.of("AUTO_BASAL")[-1]["zone"] == "CGM_LOST"
    defective = Pump(aid_stale_cgm_as_fresh=True)
    defective.cmd("AUTO", "ON")
    defective.feed([220] * 6, age_s=900)
    assert "CGM_LOST" not in [e["zone"] for e in defective.of("AUTO_BASAL")]


def test_the_seeded_missing_fallback_keeps_the_raised_basal_without_cgm():
    pump = Pump(aid_no_cgm_fallback=True)
    pump.cmd("AUTO", "ON")
    pump.feed([220])
    pump.world.advance(4 * 3600.0)
    assert pump.world.pump.basal_rate == pytest.approx(3.0) and not pump.of("ALARM") and not pump.of("AUTO_EXIT")


def test_the_seeded_undelivered_increase_is_counted_but_never_moved():
    delivered = {}
    for defect in (False, True):
        pump = Pump(aid_basal_not_delivered=defect)
        pump.cmd("AUTO", "ON")
        pump.cmd("SET", "max_iob=30")
        before = pump.world.bench.arrived_uL if hasattr(pump.world.bench, "arrived_uL") else None
        pump.feed([170] * 24)  # two hours just above 160: raised, below the correction threshold
        delivered[defect] = (float(pump.cmd("STATUS")["delivered"]), pump.world.inspect()["arrived_uL"], before)
    assert delivered[True][0] == pytest.approx(delivered[False][0])  # the pump reports the same insulin
    assert delivered[True][1] < 0.6 * delivered[False][1]  # the motor moved at the profile only


# -- invariants over generated traces ----------------------------------------------------------------------
TRACES = st.lists(st.integers(-12, 12), min_size=6, max_size=40).map(
    lambda steps: [min(400, max(40, 140 + sum(steps[: i + 1]) * 3)) for i in range(len(steps))]
)


def _violations(trace, **defects) -> list[str]:
    """What the auto mode did on the trace that its rules forbid, judged from its events and the trace alone."""
    pump = Pump(**defects)
    pump.cmd("AUTO", "ON")
    pump.feed(trace)
    cap = min(3.0, 3 * PROFILE, 4 * PROFILE)
    found = []
    for event in pump.of("AUTO_BASAL"):
        rate, t = float(event["rate"]), float(event["t"])
        i = round(t / CGM_INTERVAL_S)
        predicted = trace[i] + 30 * ((trace[i] - trace[i - 1]) / 5.0 if i else 0.0)
        if rate > cap + 1e-9:
            found.append(f"rate {rate} above the cap {cap} at {t:.0f} s")
        if rate > PROFILE + 1e-9 and predicted < auto_mode.REDUCE_BELOW:
            found.append(f"an increase to {rate} while predicted {predicted:.0f} at {t:.0f} s")
    times = [float(b["t"]) for b in pump.of("AUTO_BOLUS")]
    if any(b - a < auto_mode.CORRECTION_INTERVAL_S for a, b in zip(times, times[1:], strict=False)):
        found.append(f"corrections closer than an hour: {times}")
    for t, on_board in _iob_after_each_correction(pump):
        if on_board > 5.0 + 0.05:
            found.append(f"insulin on board {on_board:.2f} U above max_iob after the correction at {t:.0f} s")
    return found


def _iob_after_each_correction(pump: "Pump") -> list[tuple[float, float]]:
    """(time, insulin on board just after it) of each correction, from the pump's events alone: the corrections,
    and the automatic basal beyond the profile between its AUTO_BASAL events."""
    doses = [(float(b["t"]), float(b["amount"])) for b in pump.of("AUTO_BOLUS")]
    basal = [(float(e["t"]), float(e["rate"])) for e in pump.of("AUTO_BASAL")]
    out = []
    for t, _ in doses:
        on_board = sum(u * iob_fraction((t - ti) / 60) for ti, u in doses if ti <= t)
        for (t0, rate), (t1, _) in zip(basal, [*basal[1:], (t, 0.0)], strict=True):
            if t0 < t:
                for minute in range(int(t0 // 60), int(min(t1, t) // 60)):
                    on_board += (rate - PROFILE) / 60 * iob_fraction(t / 60 - minute - 0.5)
        out.append((t, on_board))
    return out


@settings(max_examples=60, deadline=None)
@given(TRACES)
def test_over_generated_traces_the_auto_mode_keeps_every_rule(trace):
    assert _violations(trace) == []


@pytest.mark.parametrize(
    "defect, trace, finding",
    [
        ({"aid_no_max_basal_cap": True}, [240] * 6, "above the cap"),
        ({"aid_no_falling_guard": True}, [300, 270, 240, 210, 180], "an increase"),
        ({"aid_ignores_iob": True}, [350] * 40, "above max_iob"),
        ({"aid_correction_scale": 10.0}, [250] * 3, "above max_iob"),
    ],
)
def test_each_invariant_fails_with_its_seeded_defect(defect, trace, finding):
    assert any(finding in v for v in _violations(trace, **defect)), _violations(trace, **defect)
