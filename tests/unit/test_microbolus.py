"""The second auto-mode design (hil/emulator/microbolus.py) against oref0 0.7.1's own rules, with known answers:
its deltas (lib/glucose-get-last.js), the microbolus's size from the insulin required and the profile basal, none
while the insulin on board is at max_iob, a zero temp when a low is predicted, the stuck-sensor rule on a flat trace;
and over the pump's protocol the same AUTO_BASAL and AUTO_BOLUS events as the zones design, microboluses 3 min apart
at most, the shared CGM-lost fallback and exit, and on a noisy CGM the insulin on board within max_iob."""

import math

import numpy as np
import pytest

from hil.emulation.options import AutoModeParams, Defects, EmulatorConfig, PumpParams
from hil.emulator import auto_mode
from hil.emulator.auto_mode import AutoSettings, Zone
from hil.emulator.microbolus import GlucoseStatus, Microbolus, glucose_status
from hil.emulator.world import World
from hil.transport.frames import Frame

CGM_INTERVAL_S = 300.0
PROFILE = 1.0  # U/h


def _rules(profile: float = PROFILE, max_iob: float = 5.0, doses=None, simulated_cgm: bool = True) -> Microbolus:
    return Microbolus(
        AutoSettings(target=110, isf=50, max_basal=3.0, max_iob=max_iob),
        lambda: profile,
        0.05,
        Defects(),
        [] if doses is None else doses,
        simulated_cgm=simulated_cgm,
    )


def _flat(glucose: float) -> GlucoseStatus:
    return GlucoseStatus(glucose, 0.0, 0.0, 0.0)


def test_deltas_are_orefs_averages_per_5_min_over_their_windows():
    """delta from the value 5 min before, short_avgdelta the mean over 5-15 min, long_avgdelta over 20-40 min, each
    (now − then) / minutes × 5 (glucose-get-last.js lines 25-77); a value within 2.5 min is averaged into the newest."""
    values = [(-40 * 60.0, 100.0), (-30 * 60.0, 110.0), (-20 * 60.0, 115.0), (-15 * 60.0, 120.0), (-10 * 60.0, 125.0),
              (-5 * 60.0, 140.0), (0.0, 150.0)]
    g = glucose_status(values)
    assert g.glucose == 150.0 and g.delta == 10.0
    assert g.short_avgdelta == pytest.approx(round((10 + 25 / 10 * 5 + 30 / 15 * 5) / 3, 2))  # 5, 10 and 15 min ago
    assert g.long_avgdelta == pytest.approx(round((35 / 20 * 5 + 40 / 30 * 5 + 50 / 40 * 5) / 3, 2))
    twice = glucose_status([(-300.0, 140.0), (-60.0, 148.0), (0.0, 152.0)])  # the newest now 150 at −30 s
    assert twice.glucose == 150.0 and twice.delta == 10.0  # 4.5 min before it: oref0 rounds to 5 whole minutes


@pytest.mark.parametrize(
    "profile, required, bolus",
    [
        (1.0, 3.0, 0.5),  # half of 3 U is 1.5: cut to maxBolus, 30 min of 1 U/h
        (1.0, 0.66, 0.3),  # half of 0.66 is 0.33, rounded down to the 0.05-U increment
        (2.0, 1.5, 0.75),  # half of 1.5 U, under 30 min of 2 U/h (1.0 U)
        (0.5, 2.0, 0.3),  # maxBolus = round(0.5 × 30 / 60, 1) = 0.3: oref0 rounds it to 0.1 U, halves up
    ],
)
def test_a_microbolus_is_half_the_insulin_required_at_most_30_min_of_basal(profile, required, bolus):
    """determine-basal.js 1094-1100: microBolus = floor(min(insulinReq / 2, maxBolus) / increment) × increment,
    maxBolus = round(current_basal × maxSMBBasalMinutes 30 / 60, 1). With nothing on board and a flat 110 + 50 ×
    required mg/dL, insulinReq is `required` (eventual = glucose, 4-h predictions flat)."""
    decision = _rules(profile).decide(0.0, _flat(110.0 + 50.0 * required), 0.0)
    assert decision.correction == pytest.approx(bolus)
    assert decision.zone is Zone.INCREASE and decision.predicted == pytest.approx(110.0 + 50.0 * required)


def test_the_raised_rate_delivers_the_insulin_required_over_30_min_within_the_caps():
    rules = _rules()
    assert rules.decide(0.0, _flat(135.0), 0.0).rate == pytest.approx(1.0 + 2 * 0.5)  # insulinReq 0.5 U
    assert rules.decide(0.0, _flat(250.0), 0.0).rate == pytest.approx(3.0)  # 1 + 2 × 2.8, capped at 3 × profile


def test_no_microbolus_and_no_increase_while_the_insulin_on_board_is_at_max_iob():
    """determine-basal.js 1045-1063: IOB above max_iob sets the profile; insulinReq is cut to max_iob − IOB, so at
    max_iob there is nothing left to give."""
    for on_board in (5.0, 6.0):
        rules = _rules(doses=[(0.0, on_board)])
        decision = rules.decide(1.0, GlucoseStatus(400.0, 0.0, 0.0, 0.0), rules.iob(1.0))
        assert decision.correction == 0.0 and decision.rate <= PROFILE, on_board
    below = _rules(doses=[(0.0, 4.0)])
    assert below.decide(1.0, _flat(400.0), below.iob(1.0)).correction <= (5.0 - below.iob(1.0)) / 2


def test_no_microbolus_within_3_min_of_the_last_bolus():
    rules = _rules()
    rules.last_correction_s = 0.0
    assert rules.decide(180.0, _flat(250.0), 0.0).correction == 0.0  # SMBInterval: more than 3 min, strictly
    assert rules.decide(181.0, _flat(250.0), 0.0).correction == 0.5
    rules.last_user_bolus_s = lambda: 100.0  # the user's bolus counts as the last bolus too
    assert rules.decide(250.0, _flat(250.0), 0.0).correction == 0.0


@pytest.mark.parametrize("glucose, delta", [(70.0, 10.0), (120.0, -10.0), (180.0, -20.0)])
def test_a_predicted_low_is_a_zero_temp_without_a_microbolus(glucose, delta):
    """determine-basal.js 912-921: glucose or minGuardBG below the threshold (target 110: 75 mg/dL) sets a zero temp,
    even at 70 mg/dL rising 10 per 5 min (its eventual glucose 130); SMB is off (862-866). Falling 10 mg/dL per 5 min
    from 120 reaches 75 within the hour."""
    decision = _rules().decide(0.0, GlucoseStatus(glucose, delta, delta, delta), 0.0)
    assert (decision.rate, decision.zone, decision.correction) == (0.0, Zone.STOP, 0.0)


def test_an_eventual_glucose_below_target_is_a_low_temp():
    """determine-basal.js 955-967: rate = profile + 2 × 2 × (eventual − target) / ISF: 100 mg/dL flat, 0.2 U/h."""
    decision = _rules().decide(0.0, _flat(100.0), 0.0)
    assert decision.zone is Zone.REDUCE and decision.rate == pytest.approx(1.0 - 4 * 10 / 50)


def test_no_microbolus_on_a_rise_over_20_percent_of_the_glucose():
    """determine-basal.js 869-880: maxDelta > 20 % of the glucose (a calibration jump) disables SMB."""
    assert _rules().decide(0.0, GlucoseStatus(200.0, 41.0, 20.0, 10.0), 0.0).correction == 0.0
    assert _rules().decide(0.0, GlucoseStatus(200.0, 39.0, 20.0, 10.0), 0.0).correction > 0.0


def test_a_flat_trace_is_a_stuck_sensor_unless_the_cgm_is_simulated():
    """determine-basal.js 177-221: unchanged for 5 min and within ±1 mg/dL per 5 min over 15 and 45 min: nothing
    new, a raised rate back to the profile; oref0's simulator ("fakecgm") doses on it."""
    sensor, simulated = _rules(simulated_cgm=False), _rules(simulated_cgm=True)
    for k in range(8):
        sensor_decision = sensor.cycle(k * CGM_INTERVAL_S, k * CGM_INTERVAL_S, 250.0, 250.0)
        simulated_decision = simulated.cycle(k * CGM_INTERVAL_S, k * CGM_INTERVAL_S, 250.0, 250.0)
        assert (sensor_decision.rate, sensor_decision.correction) == (PROFILE, 0.0)
        assert simulated_decision.zone is Zone.INCREASE
    sensor.rate = 3.0
    sensor.rate_until_s = math.inf
    assert sensor.cycle(9 * CGM_INTERVAL_S, 9 * CGM_INTERVAL_S, 250.0, 250.0).rate == PROFILE


# -- the pump in auto mode, over its protocol ----------------------------------------------------------------
class Pump:
    def __init__(self, simulated_cgm: bool = True):
        self.events: list[tuple[str, dict]] = []
        config = EmulatorConfig(
            pump=PumpParams(slack_U=0.0), auto_mode=AutoModeParams(design="microbolus", simulated_cgm=simulated_cgm)
        )
        self.world = World(config, lambda kind, fields: self.events.append((kind, fields)), lambda line: None)
        for request in [("RESUME",), ("BASAL", f"{PROFILE:.3f}"), ("SET", "target=110", "isf=50", "max_basal=3")]:
            self.cmd(*request)

    def cmd(self, word, *args):
        return dict(field.split("=", 1) for field in self.world.pump.handle(Frame("1", word, tuple(args))))

    def feed(self, trace, interval_s: float = CGM_INTERVAL_S):
        """One CGM value every interval (no trend: the design uses its own deltas); the insulin on board after each."""
        on_board = []
        for glucose in trace:
            self.cmd("CGM", f"{glucose:.0f}")
            self.world.advance(interval_s)
            on_board.append(float(self.cmd("AUTO")["iob"]))
        return on_board

    def of(self, kind):
        return [fields for k, fields in self.events if k == kind]


def test_the_pump_reports_microboluses_as_auto_bolus_events_with_no_hourly_spacing():
    pump = Pump()
    pump.cmd("SET", "max_iob=3")
    pump.cmd("AUTO", "ON")
    pump.feed([300] * 24)
    boluses = pump.of("AUTO_BOLUS")
    times = [float(b["t"]) for b in boluses]
    assert len(boluses) >= 6 and min(b - a for a, b in zip(times, times[1:], strict=False)) == CGM_INTERVAL_S
    assert all(float(b["amount"]) <= 0.5 for b in boluses)  # 30 min of 1 U/h each
    assert set(boluses[0]) == {"amount", "predicted", "iob", "t"}
    assert {e["zone"] for e in pump.of("AUTO_BASAL")} <= {str(z) for z in Zone}
    assert len(pump.of("BOLUS_DONE")) == len(boluses)


def test_microboluses_come_every_3_min_at_most_on_a_faster_cgm():
    pump = Pump()
    pump.cmd("AUTO", "ON")
    pump.feed([300] * 20, interval_s=60.0)  # a value a minute
    times = [float(b["t"]) for b in pump.of("AUTO_BOLUS")]
    assert len(times) >= 4 and min(b - a for a, b in zip(times, times[1:], strict=False)) > 180.0


def test_cgm_lost_falls_back_to_the_profile_with_an_alert_then_exits():
    """The fallback and the exit are the pump's, shared by both designs."""
    pump = Pump()
    pump.cmd("AUTO", "ON")
    pump.feed([250, 250])
    assert pump.world.pump.basal_rate > PROFILE
    pump.world.advance(auto_mode.CGM_MISSING_S - CGM_INTERVAL_S + 1)
    assert pump.world.pump.basal_rate == PROFILE and pump.of("AUTO_BASAL")[-1]["zone"] == "CGM_LOST"
    assert [(a["kind"], a["priority"]) for a in pump.of("ALARM")] == [("AUTO_CGM_LOST", "MEDIUM")]
    pump.world.advance(auto_mode.EXIT_AFTER_SAFE_BASAL_S)
    assert pump.of("AUTO_EXIT")[-1]["reason"] == "CGM_LOST" and pump.cmd("AUTO")["auto"] == "OFF"


def _noisy(level: float, n: int, seed: int, sd: float = 4.0, phi: float = 0.8) -> list[float]:
    """A CGM trace at `level` with autocorrelated noise (AR(1), SD `sd` mg/dL, lag-1 correlation phi at 5 min)."""
    rng = np.random.default_rng(seed)
    noise = [0.0]
    for _ in range(n - 1):
        noise.append(phi * noise[-1] + sd * math.sqrt(1 - phi**2) * rng.standard_normal())
    return [level + e for e in noise]


@pytest.mark.parametrize("seed", range(3))
def test_on_a_noisy_cgm_the_design_doses_within_max_iob_and_not_in_range(seed):
    """A noise of a few mg/dL, correlated over minutes: at 100 mg/dL (below the 110 target) no microbolus; at
    250 mg/dL the insulin on board climbs to max_iob and stays within it."""
    low = Pump(simulated_cgm=False)
    low.cmd("AUTO", "ON")
    low.feed(_noisy(100.0, 48, seed))
    assert not low.of("AUTO_BOLUS")
    high = Pump(simulated_cgm=False)
    high.cmd("SET", "isf=20", "max_iob=3")  # sensitive enough that max_iob, not the eventual glucose, stops it
    high.cmd("AUTO", "ON")
    on_board = high.feed(_noisy(250.0, 48, seed))
    assert high.of("AUTO_BOLUS") and max(on_board) <= 3.0 + 0.05  # max_iob, and the raised basal's last stroke
    assert max(on_board[12:]) > 2.5
