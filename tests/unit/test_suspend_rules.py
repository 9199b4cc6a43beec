"""The harness's independent statement of the suspend rules, and invariants of the emulated firmware over
many Hypothesis-generated CGM traces."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.analysis import suspend_rules
from hil.emulator.config import EmulatorConfig, PumpParams
from hil.emulator.world import World
from hil.transport.frames import Frame

T = [i * 300.0 for i in range(8)]


def test_before_low_is_due_where_both_conditions_first_hold():
    fall = [160, 150, 140, 130, 120, 110, 100, 90]
    assert suspend_rules.predictions(T[:4], fall[:4])[-1] == pytest.approx(70.0)
    assert suspend_rules.first_suspend_index(T, fall, 60, before_low=True, on_low=False) == 3
    assert suspend_rules.first_suspend_index(T, fall, 60, before_low=False, on_low=True) is None


def test_on_low_is_due_at_the_limit_inclusive():
    assert suspend_rules.first_suspend_index(T[:3], [70, 61, 60], 60, before_low=False, on_low=True) == 2


def test_resume_needs_the_minimum_time_and_both_conditions():
    rebound = [70, 90, 110, 130, 150, 170, 190, 200]
    assert suspend_rules.first_resume_index(T, rebound, 60, suspended_s=0.0) == 6  # 30 min after, SG ≥ 80, predicted > 100


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
