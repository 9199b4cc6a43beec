"""The harness's independent statement of the suspend rules, and invariants of the emulated firmware over
many Hypothesis-generated CGM traces."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.analysis import suspend_rules
from hil.emulation.options import EmulatorConfig, PumpParams
from hil.emulator.world import World
from hil.transport.frames import Frame

T = [i * 300.0 for i in range(8)]
# The reference pump's claimed rules (SmartGuard's; claims/reference-pump.yaml) at a low limit of 60 mg/dL.
SMARTGUARD = suspend_rules.Rules(60, 70, 20, 20, 40, 30)


def test_before_low_is_due_where_both_conditions_first_hold():
    fall = [160, 150, 140, 130, 120, 110, 100, 90]
    assert suspend_rules.predictions(T[:4], fall[:4])[-1] == pytest.approx(70.0)
    assert suspend_rules.first_suspend_index(T, fall, SMARTGUARD, before_low=True, on_low=False) == 3
    assert suspend_rules.first_suspend_index(T, fall, SMARTGUARD, before_low=False, on_low=True) is None


def test_on_low_is_due_at_the_limit_inclusive():
    assert suspend_rules.first_suspend_index(T[:3], [70, 61, 60], SMARTGUARD, before_low=False, on_low=True) == 2


def test_resume_needs_the_minimum_time_and_both_conditions():
    rebound = [70, 90, 110, 130, 150, 170, 190, 200]
    assert suspend_rules.first_resume_index(T, rebound, SMARTGUARD, suspended_s=0.0) == 6  # 30 min after, SG ≥ 80, predicted > 100


def test_missing_values_are_skipped_and_break_the_prediction_window():
    values = [160, None, None, None, None, 120]
    t = [i * 300.0 for i in range(6)]
    assert suspend_rules.predictions(t, values)[-1] == 120.0  # 25 min since the previous value: no trend


# Shapes: random walks (falls, rises, rebounds) and plateaus of random level and length (long lows included).
walks = st.lists(st.integers(-15, 15), min_size=6, max_size=40).map(
    lambda steps: [max(40, min(400, 150 + sum(steps[:i]))) for i in range(len(steps))])
plateaus = st.lists(st.tuples(st.integers(40, 250), st.integers(1, 36)), min_size=1, max_size=5).map(
    lambda parts: [level for level, length in parts for _ in range(length)])
traces = st.one_of(walks, plateaus)


@settings(max_examples=150, deadline=None)
@given(trace=traces)
def test_firmware_invariants_over_random_traces(trace):
    events = []
    world = World(EmulatorConfig(pump=PumpParams(slack_U=0.0)), lambda kind, f: events.append((kind, dict(f))), lambda l: None)
    for word, *args in [("RESUME",), ("BASAL", "1.000"), ("SET", "low_limit=60", "before_low=1", "on_low=1")]:
        world.pump.handle(Frame("1", word, tuple(args)))
    pump = world.pump
    suspended_since = None
    for glucose in trace:
        pump.handle(Frame("1", "CGM", (str(glucose),)))
        before = pump.delivered_U
        if pump.state == "AUTO_SUSPENDED" and suspended_since is None:
            suspended_since = world.scheduler.now
        world.advance(300.0)
        if pump.state == "AUTO_SUSPENDED":
            assert pump.delivered_U == before, "delivered while suspended"
            assert world.scheduler.now - suspended_since <= 7200.0 + 300.0, "suspended beyond 2 h"
        else:
            suspended_since = None
    if min(trace) > 60 + 70:
        assert not any(kind == "SUSPEND" for kind, _ in events), "suspended on a trace far from the limit"
    ends = [f for kind, f in events if kind == "RESUME" and f["reason"] == "MAX_DURATION"]
    alarms = [f for kind, f in events if kind == "ALARM" and f["kind"] == "SUSPEND_MAX_DURATION"]
    assert bool(alarms) == bool(ends), "a suspension ended by the 2-h limit is alerted, and only then"


# Mutation testing (scripts/mutation.sh, docs/validation.md): each threshold of the published rules at its edge.

def test_the_rules_are_the_claims_the_case_gives():
    assert suspend_rules.HORIZON_MIN == 30.0
    from hil.specs import load_requirements

    case = load_requirements()["HS-SBL-001"].case
    assert suspend_rules.Rules.of_case(case) == SMARTGUARD


def test_other_claimed_rules_move_the_edges():
    """A pump claiming Basal-IQ-like margins (suspend on a prediction within 20 of an 80 limit, anywhere above it;
    resume at once above it): the same traces, other verdicts."""
    wide = suspend_rules.Rules(80, 1000, 0, 0, 0, 0)
    assert suspend_rules.first_suspend_index(T[:2], [200, 190], wide, before_low=True, on_low=False) is None
    # SmartGuard's 70-mg/dL window leaves 131 alone however fast it falls; a pump without one suspends there
    assert suspend_rules.first_suspend_index([0.0, 300.0], [141, 131], SMARTGUARD, before_low=True, on_low=False) is None
    assert suspend_rules.first_suspend_index([0.0, 300.0], [141, 131], wide, before_low=True, on_low=False) == 1
    assert suspend_rules.first_resume_index(T[:2], [90, 90], wide, suspended_s=0.0) == 0


@pytest.mark.parametrize("trace, due", [
    ([140, 130], 1),  # SG 130 = limit + 70 (inclusive), trend −2.0: predicted 70 ≤ 80
    ([141, 131], None),  # SG 131: above limit + 70, however fast it falls
    ([115, 110], 1),  # trend −1.0: predicted 80 = limit + 20 (inclusive)
    ([114, 110], None),  # trend −0.8: predicted 86
    ([80], 0),  # one value: no trend, predicted = SG = 80
    ([None, 81, None], None),
])
def test_before_low_edges(trace, due):
    t = [i * 300.0 for i in range(len(trace))]
    assert suspend_rules.first_suspend_index(t, trace, SMARTGUARD, before_low=True, on_low=False) == due
    assert suspend_rules.first_suspend_index(t, trace, SMARTGUARD, before_low=False, on_low=False) is None


def test_on_low_skips_missing_values_and_ignores_the_prediction():
    t = [0.0, 300.0, 600.0]
    assert suspend_rules.first_suspend_index(t, [None, 61, 60], SMARTGUARD, before_low=False, on_low=True) == 2
    assert suspend_rules.first_suspend_index(t, [200, 130, 60], SMARTGUARD, before_low=False, on_low=True) == 2
    assert suspend_rules.predictions(t, [None, 100, 90]) == [None, 100.0, 30.0]


def test_resume_edges():
    t = [i * 300.0 for i in range(9)]
    assert suspend_rules.first_resume_index(t, [101] * 9, SMARTGUARD, suspended_s=0.0) == 6  # exactly 30 min after
    assert suspend_rules.first_resume_index(t, [101] * 9, SMARTGUARD, suspended_s=1.0) == 7
    assert suspend_rules.first_resume_index(t, [100] * 9, SMARTGUARD, suspended_s=0.0) is None  # predicted 100: not > 100
    rising = [59.0, 62.5, 66.0, 69.5, 73.0, 76.5, 80.0, 80.0, 80.0]  # trend +0.7 up to index 6: predicted 101
    assert suspend_rules.first_resume_index(t, rising, SMARTGUARD, suspended_s=0.0) == 6  # SG 80 = limit + 20 (inclusive)
    assert suspend_rules.first_resume_index(t, [v - 0.5 for v in rising], SMARTGUARD, suspended_s=0.0) is None
    assert suspend_rules.first_resume_index(t, [None] * 8 + [150], SMARTGUARD, suspended_s=0.0) == 8


# The trend the rules predict from (hil.analysis.cgm_trend), at its window's edge and in its running use.

def test_the_trend_window_is_20_min_inclusive():
    from hil.analysis import cgm_trend

    assert cgm_trend.WINDOW_S == 1200.0 and cgm_trend.MAX_VALUES == 4
    assert cgm_trend.trends([0.0, 1200.0], [100, 80]) == [0.0, -1.0]  # 20 min old: still used
    assert cgm_trend.trends([0.0, 1210.0], [100, 80]) == [0.0, 0.0]  # 20 min 10 s old: not used
    assert cgm_trend.report(-0.04) == 0.0 and str(cgm_trend.report(-0.04)) == "0.0"  # no negative zero
    assert cgm_trend.report(1.26) == 1.3


def test_the_running_trend_is_the_one_at_the_last_received_value():
    from hil.analysis import cgm_trend

    assert cgm_trend.trend([0.0, 300.0, 600.0], [100, 100, 70]) == -3.0
    assert cgm_trend.trend([0.0, 300.0, 600.0], [100, None, 90]) == -1.0  # a missing value in between is skipped
    with pytest.raises(ValueError, match=r"^the trend is reported with a value: the last one is missing$"):
        cgm_trend.trend([0.0, 300.0, 600.0], [100, 95, None])
