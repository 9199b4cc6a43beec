import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.evidence.measurements import FAIL, INCONCLUSIVE, INFO, PASS, Outcome, decide, measurement


@pytest.mark.parametrize("value, low, high, u, expected", [
    (0.0, -5, 5, 1, PASS), (4.5, -5, 5, 1, INCONCLUSIVE), (6.5, -5, 5, 1, FAIL), (-5.5, -5, 5, 1, INCONCLUSIVE),
    (-6.5, -5, 5, 1, FAIL), (100, 80, None, 0, PASS), (79.9, 80, None, 0, FAIL), (1.0, None, 0.12, 0, FAIL),
    (math.nan, 0, 1, 0, INCONCLUSIVE), (3.0, None, None, 0, INFO),
])
def test_decision_rule(value, low, high, u, expected):
    assert decide(value, low, high, u) == expected


@given(value=st.floats(-1e6, 1e6), low=st.floats(-1e3, 0), high=st.floats(0, 1e3), u=st.floats(0, 1e3))
def test_guard_band_is_monotone(value, low, high, u):
    # A wider uncertainty can turn PASS or FAIL into INCONCLUSIVE, never PASS into FAIL or back.
    narrow, wide = decide(value, low, high, 0.0), decide(value, low, high, u)
    assert wide == narrow or wide == INCONCLUSIVE


def test_outcomes_are_an_enum_that_reads_as_its_name_in_json():
    bad = measurement("c", 3, "%", 0, 2)
    assert bad.outcome is Outcome.FAIL and bad.as_dict()["outcome"] == "FAIL"
    assert "limits [0, 2] %: FAIL" in bad.summary()


def test_the_fitness_check_makes_an_unresolvable_two_sided_bound_inconclusive_never_pass():
    from hil.evidence.measurements import measurement

    fit = measurement("overall_error", 1.0, "%", -5, 5, uncertainty=1.0, min_tur=4)  # TUR 5
    unfit = measurement("overall_error", 1.0, "%", -5, 5, uncertainty=1.5, min_tur=4)  # TUR 3.3, inside
    outside = measurement("overall_error", 9.0, "%", -5, 5, uncertainty=1.5, min_tur=4)
    assert (fit.outcome, unfit.outcome, outside.outcome) == ("PASS", "INCONCLUSIVE", "FAIL")
    assert "test uncertainty ratio 3.3 < 4" in unfit.summary()
    assert measurement("bolus_max", 0.05, "U", None, 0.119, uncertainty=0.05, min_tur=4).outcome == "PASS"


def test_an_infinite_value_is_a_value_and_fails_an_upper_bound():
    from hil.evidence.measurements import measurement

    assert measurement("escalation_delay", float("inf"), "min", None, 10, uncertainty=0.5, min_tur=4).outcome == "FAIL"
    assert measurement("time_to_alarm", float("nan"), "min", None, 180).outcome == "INCONCLUSIVE"


# Mutation testing (scripts/mutation.sh, docs/validation.md): the tests below pin what the report shows and
# the decision rule at its edges, where a changed comparison or default would otherwise go unnoticed.

def test_outcomes_read_as_their_names():
    assert [str(o) for o in Outcome] == ["PASS", "FAIL", "INCONCLUSIVE", "INFO"]
    assert (PASS, FAIL, INCONCLUSIVE, INFO) == ("PASS", "FAIL", "INCONCLUSIVE", "INFO")


def test_the_decision_rule_text_states_the_rule_in_whole_sentences():
    # It is written into every run's report (hil.cli); each phrase below spans two of its source lines.
    from hil.evidence.measurements import DECISION_RULE

    assert DECISION_RULE.startswith("Decision rule (ILAC-G8, guard band = expanded uncertainty U, k = 2, GUM): ")
    assert DECISION_RULE.endswith("has a finite measurement inside it; INCONCLUSIVE fails the test.")
    for phrase in ("PASSES when its value ± U lies inside", "is INCONCLUSIVE when it straddles a limit",
                   "Fitness: for a two-sided bound", "min_tur makes the result INCONCLUSIVE, never PASS",
                   "Detection shares and alarm rates carry", "ran to its end and every acceptance bound"):
        assert phrase in DECISION_RULE


def test_a_measurement_without_limits_is_reported_info_with_plain_defaults():
    from hil.evidence.measurements import Measurement

    bare = Measurement("i", 2.0, "U")
    assert (bare.low, bare.high, bare.uncertainty, bare.source, bare.outcome, bare.tur, bare.min_tur) == (
        None, None, 0.0, "", INFO, None, None)
    judged = measurement("i", 2.0, "U")
    assert (judged.outcome, judged.source, judged.tur, judged.uncertainty) == (INFO, "", None, 0.0)
    assert judged.summary() == "i = 2 U, limits reported: INFO"
    assert measurement("i", math.nan, "U").outcome == INFO  # not computed, but nothing to decide either
    assert measurement("x", math.nan, "%", 0, None).outcome == INCONCLUSIVE  # a lower bound alone is a bound


@pytest.mark.parametrize("m, text", [
    (measurement("c", 3, "%", 0, 2), "c = 3 %, limits [0, 2] %: FAIL"),
    (measurement("z", 0.05, "U", None, 0.119, uncertainty=0.01), "z = 0.05 ± 0.01 U, limits ≤ 0.119 U: PASS"),
    (measurement("b", 1.9, "%", 0, 2, uncertainty=0.5),
     "b = 1.9 ± 0.5 %, limits [0, 2] %: INCONCLUSIVE (the expanded uncertainty straddles the limit: the rig "
     "cannot resolve this requirement)"),
    (measurement("e", math.nan, "%", -5, 5, uncertainty=1.5, min_tur=4),
     "e = not measured (the rig's expected U is 1.5 %), limits [-5, 5] %: INCONCLUSIVE (test uncertainty ratio "
     "3.3 < 4: the rig cannot resolve this requirement)"),
    (measurement("e", 1.0, "%", -5, 5, uncertainty=1.5, min_tur=4),
     "e = 1 ± 1.5 %, limits [-5, 5] %: INCONCLUSIVE (test uncertainty ratio 3.3 < 4: the rig cannot resolve this "
     "requirement)"),
    (measurement("t", math.nan, "min", None, 180),
     "t = nan min, limits ≤ 180 min: INCONCLUSIVE (no value could be computed)"),
    (measurement("t", 500.0, "min", high=math.nan),
     "t = 500 min, limits ≤ nan min: INCONCLUSIVE (the uncertainty, a limit or the required TUR is not a finite "
     "number: cannot be judged)"),
])
def test_the_summary_is_the_sentence_the_report_shows(m, text):
    assert m.summary() == text


def test_the_guard_band_edges():
    # value ± U touching a limit is not outside it (not FAIL), and touching it from inside still passes.
    assert decide(-6.0, -5, 5, 1.0) == INCONCLUSIVE and decide(6.0, -5, 5, 1.0) == INCONCLUSIVE
    assert decide(-4.0, -5, 5, 1.0) == PASS and decide(4.0, -5, 5, 1.0) == PASS
    assert decide(4.0, -5, 5, -1.0) == PASS and decide(6.5, -5, 5, -1.0) == FAIL  # |U|
    assert decide(4.5, -5, 5) == PASS  # no uncertainty unless given
    assert decide(None, 0, 1) == INCONCLUSIVE
    assert decide(1.5, 1.5, None) == PASS and decide(1.5, None, 1.5) == PASS


def test_the_test_uncertainty_ratio_and_its_edge():
    assert measurement("a", 0.0, "%", -5, 5, uncertainty=1.0).tur == 5.0
    assert measurement("a", 0.0, "%", -5, 5, uncertainty=-1.0).uncertainty == 1.0
    assert measurement("a", 0.0, "%", -5, 5).tur == math.inf
    assert measurement("a", 0.0, "%", None, 5, uncertainty=1.0).tur is None
    at_edge = measurement("a", 0.0, "%", -4, 4, uncertainty=1.0, min_tur=4)  # TUR exactly 4 is fit
    assert (at_edge.tur, at_edge.unfit, at_edge.outcome) == (4.0, False, PASS)
    below = measurement("a", 0.0, "%", -4, 4, uncertainty=1.01, min_tur=4)
    assert (below.unfit, below.outcome) == (True, INCONCLUSIVE)
    assert measurement("a", 0.0, "%", -4, 4, uncertainty=1.01).unfit is False  # no minimum asked: never unfit
    assert measurement("a", 9.0, "%", -4, 4, uncertainty=1.01, min_tur=4).outcome == FAIL


def test_as_dict_keeps_finite_numbers_and_writes_the_others_as_null():
    d = measurement("a", 1.5, "%", -5, 5, uncertainty=0.5, source="scale", min_tur=4).as_dict()
    assert d == {"name": "a", "value": 1.5, "unit": "%", "low": -5, "high": 5, "uncertainty": 0.5, "source": "scale",
                 "outcome": "PASS", "tur": 10.0, "min_tur": 4}
    assert measurement("a", math.nan, "%", 0, 1).as_dict()["value"] is None
    assert measurement("a", math.inf, "%", 0, None).as_dict()["value"] is None
    assert measurement("a", 1.0, "%", 0, 2).as_dict()["tur"] is None  # infinite TUR (U = 0)


def test_a_judged_measurement_cannot_be_edited_afterwards():
    import dataclasses

    m = measurement("c", 3, "%", 0, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.outcome = PASS  # a FAIL stays the FAIL it was judged
