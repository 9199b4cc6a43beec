"""The CGM trend as the feed reports it (hil.analysis.cgm_trend): known answers, the feed sending it with every
value, and the trend reaching the emulated pump over serial and over CAN."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.analysis import cgm_trend, suspend_rules
from hil.procedures.cgm import RECORDING_COLUMNS, Scenario, feed

ROOT = Path(__file__).resolve().parents[2]
T = [k * 300.0 for k in range(12)]


def test_a_linear_fall_of_2_mg_dl_per_min_is_minus_2():
    fall = [160 - 10 * k for k in range(8)]
    assert cgm_trend.trends(T[:8], fall)[3:] == [-2.0] * 5
    assert cgm_trend.trend(T[:8], fall) == -2.0
    assert cgm_trend.predicted(130, -2.0) == 70.0


def test_the_first_values_before_a_full_window():
    # One value: no slope, reported flat; two and three values: the slope over what there is.
    assert cgm_trend.trends(T[:4], [160, 150, 140, 130]) == [0.0, -2.0, -2.0, -2.0]
    assert cgm_trend.trends(T[:3], [100, 103, 100]) == [0.0, 0.6, 0.0]


def test_only_the_last_four_values_count():
    # a rise then a fall: at the fifth value the first (100) has left the window
    trace = [100, 150, 150, 150, 150]
    assert cgm_trend.trends(T[:5], trace)[3] == pytest.approx(3.0)  # slope of 100, 150, 150, 150 over 15 min
    assert cgm_trend.trends(T[:5], trace)[4] == 0.0


def test_missing_values_and_the_20_min_window():
    # one value missing: the four received values span 20 min and all count
    assert cgm_trend.trends(T[:5], [160, 150, None, 130, 120]) == [0.0, -2.0, None, -2.0, -2.0]
    # 25 min since the previous value: nothing in the window but the value itself
    assert cgm_trend.trends(T[:6], [160, None, None, None, None, 120])[-1] == 0.0
    with pytest.raises(ValueError, match="missing"):
        cgm_trend.trend(T[:2], [160, None])
    assert cgm_trend.trend(T[:6], [200, 160, None, 140, 130, 120]) == -2.0  # the 200 is 25 min old


def test_reported_to_a_tenth_of_a_mg_dl_per_min():
    assert cgm_trend.trends(T[:4], [100, 92, 85, 77])[-1] == -1.5  # least-squares −1.52
    assert cgm_trend.report(-0.04) == 0.0 and str(cgm_trend.report(-0.04)) == "0.0"  # no negative zero
    assert cgm_trend.report(2.349) == 2.3


def test_noise_on_a_fall_gives_the_fall_within_the_fit_error():
    rng = np.random.default_rng(7)
    t = [k * 300.0 for k in range(200)]
    noisy = [2300 - 2.0 * 5 * k + rng.normal(0, 5) for k in range(200)]
    trends = np.array(cgm_trend.trends(t, noisy)[3:])
    # The slope of four values 5 min apart with noise σ has standard error σ / sqrt(Σ(t - t̄)²) = 5 / sqrt(125).
    assert abs(trends.mean() + 2.0) < 0.1
    assert trends.std() == pytest.approx(5 / np.sqrt(125), rel=0.2)


def test_the_suspend_rules_predict_from_the_reported_trend():
    fall = [160 - 10 * k for k in range(6)]
    assert suspend_rules.predictions(T[:6], fall) == [cgm_trend.predicted(g, -2.0 if k else 0.0) for k, g in enumerate(fall)]
    # a trend just beyond the rounding: 120 falling at 1.34 mg/dL/min is reported −1.3, predicted 81 (> 80)
    trace = [120 + 1.34 * 15, 120 + 1.34 * 10, 120 + 1.34 * 5, 120]
    assert suspend_rules.predictions(T[:4], trace)[-1] == pytest.approx(81.0)
    assert suspend_rules.first_suspend_index(T[:4], trace, suspend_rules.Rules(60, 70, 20, 20, 40, 30), before_low=True, on_low=False) is None


class _FakeRig:
    """Just enough of a rig for the feed: a clock, a pump that records what it is sent, a balance."""

    def __init__(self):
        self.now, self.sent = 0.0, []
        self.clock = SimpleNamespace(now=lambda: self.now, sleep_until=self._until, sleep=lambda dt: self._until(self.now + dt))
        self.pump = SimpleNamespace(cgm_input=lambda g, trend: self.sent.append((self.now, g, trend)),
                                    pump_time=lambda: self.now, status=lambda: SimpleNamespace(state="RUNNING", delivered_U=0.0),
                                    events=lambda: [])
        self.scale = SimpleNamespace(read=lambda: SimpleNamespace(t=self.now, mass_mg=0.0))

    def _until(self, t):
        self.now = max(self.now, t)


def test_the_feed_sends_every_value_with_its_trend():
    rows = []
    rig = _FakeRig()
    scenario = Scenario("fall", 300.0, [160, 150, None, 130, 120, 110])
    record = feed(rig, scenario, 300.0, SimpleNamespace(append=lambda *row: rows.append(row)))
    assert rig.sent == [(0.0, 160, 0.0), (300.0, 150, -2.0), (900.0, 130, -2.0), (1200.0, 120, -2.0), (1500.0, 110, -2.0)]
    assert record.trend == [0.0, -2.0, None, -2.0, -2.0, -2.0]
    assert RECORDING_COLUMNS[2] == "trend_mg_dl_min"
    assert sorted({row[1:3] for row in rows}) == [("", ""), ("110", "-2.0"), ("120", "-2.0"), ("130", "-2.0"),
                                                  ("150", "-2.0"), ("160", "0.0")]


@pytest.mark.parametrize("rig_file", ["emulator.yaml", "emulator-can.yaml"])
def test_the_trend_reaches_the_pump_over_either_transport(rig_file):
    """Seen in what the emulated firmware does with it: one value of 120 mg/dL and no history, suspend before
    low at limit 60 (predicted ≤ 80 in 30 min) is due from a trend of −1.34 mg/dL/min: −1.4 suspends, −1.3 not."""
    from hil.rig.config import load_rig
    from hil.rig.rig import Rig

    for trend, state in ((-1.3, "RUNNING"), (-1.4, "AUTO_SUSPENDED")):
        with Rig(load_rig(ROOT / "fixtures" / "rigs" / rig_file)) as rig:
            rig.begin_test("trend")
            rig.pump.resume()
            rig.pump.set_basal(1.0)
            rig.pump.configure_suspend(60, before_low=True, on_low=False)
            rig.pump.cgm_input(120, trend)
            assert rig.pump.status().state == state, f"trend {trend}"


def test_a_trend_beyond_the_can_signal_is_held_to_its_range():
    from hil.drivers.pump_can import CanPumpDriver

    sent = []
    driver = CanPumpDriver(SimpleNamespace(send=lambda name, signals: sent.append(signals)))
    driver.status = lambda: SimpleNamespace(cgm_mg_dl=100.0)
    driver.cgm_input(100, -20.0)
    driver.cgm_input(100, 15.0)
    assert [s["trend"] for s in sent] == [-12.8, 12.7]


@settings(max_examples=300, deadline=None)
@given(t=st.lists(st.integers(0, 1200), min_size=2, max_size=4, unique=True),
       glucose=st.lists(st.floats(39, 600), min_size=4, max_size=4))
def test_the_slope_is_the_least_squares_line_numpy_fits(t, glucose):
    t = sorted(float(x) for x in t)
    g = glucose[: len(t)]
    expected = np.polyfit((np.array(t) - t[-1]) / 60.0, g, 1)[0]
    assert cgm_trend.slope(t, g) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(gaps=st.lists(st.sampled_from([60.0, 180.0, 300.0, 600.0, 900.0, 1500.0]), min_size=1, max_size=12),
       glucose=st.lists(st.integers(40, 400) | st.none(), min_size=12, max_size=12))
def test_the_running_trend_is_the_trace_trend_at_its_last_value(gaps, glucose):
    """trend() (the feed and the closed loop, one value at a time) computes only the last value's window: it must
    give what trends() gives there, whatever came before (gaps past the window, missing values)."""
    t = np.cumsum([0.0, *gaps]).tolist()
    trace = glucose[: len(t) - 1] + [glucose[-1] if glucose[-1] is not None else 120]
    assert cgm_trend.trend(t, trace) == cgm_trend.trends(t, trace)[-1]


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(st.integers(-15, 15), min_size=4, max_size=30), missing=st.sets(st.integers(1, 29), max_size=4))
def test_a_pump_trusting_the_trend_suspends_where_the_harness_says(steps, missing):
    """The emulated firmware, sent the feed's trend with each value, suspends first on the value at which the
    harness's independent rules (same trend definition) say a suspension is due."""
    from hil.emulation.options import EmulatorConfig, PumpParams
    from hil.emulator.world import World
    from hil.transport.frames import Frame

    trace = [max(40, min(400, 140 + sum(steps[:i]))) for i in range(len(steps))]
    trace = [None if i in missing else g for i, g in enumerate(trace)]
    t = [k * 300.0 for k in range(len(trace))]
    world = World(EmulatorConfig(pump=PumpParams(slack_U=0.0)), lambda kind, f: None, lambda line: None)
    for word, *args in [("RESUME",), ("BASAL", "1.000"), ("SET", "low_limit=60", "before_low=1", "on_low=1")]:
        world.pump.handle(Frame("1", word, tuple(args)))
    first = None
    for k, (g, trend) in enumerate(zip(trace, cgm_trend.trends(t, trace))):
        if g is not None:
            world.pump.handle(Frame("1", "CGM", (f"{g}", f"{trend:.1f}")))
        if first is None and world.pump.state == "AUTO_SUSPENDED":
            first = k
        world.advance(300.0)
    assert first == suspend_rules.first_suspend_index(t, trace, suspend_rules.Rules(60, 70, 20, 20, 40, 30), before_low=True, on_low=True)
