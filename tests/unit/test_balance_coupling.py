"""The balance must see the pump: the coupling check's judgement and diagnosis (known answers, and Hypothesis over
the window), the emulated balance faults it is tried on, and the record cross-check every basal and bolus
requirement of the dose-accuracy file carries."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hil.analysis.coupling import CouplingCheck
from hil.drivers.mtsics import parse_weight
from hil.emulation.options import EmulatorConfig
from hil.emulator.world import World
from hil.specs import load_requirements
from hil.specs.metrics import METRICS
from hil.transport.frames import Frame
from tests.unit.test_specs import DOSE, ROOT, _problems

MIN_PCT = 20.0


def weighed(seen_U: float, U: float = 0.004, readability_mg: float = 0.01) -> CouplingCheck:
    """A check delivery of 1 U weighed as seen_U on a balance reading whole steps of readability_mg."""
    return CouplingCheck(1.0, seen_U, U, 35000.0, 35000.0 + round(seen_U * 1000) * 0.01, readability_mg)


def test_a_balance_that_weighed_a_clear_share_of_the_check_delivery_is_coupled_whatever_the_pump_delivered():
    assert weighed(0.98).problem(MIN_PCT) is None
    assert weighed(0.23, U=0.02).problem(MIN_PCT) is None  # above the threshold with its uncertainty taken off
    assert weighed(0.99, U=0.14).problem(MIN_PCT) is None  # a coarse load cell, plainly seeing the prime
    assert weighed(0.3).problem(MIN_PCT) is None  # a pump delivering 30 %: the requirements' finding, not the rig's
    assert weighed(3.0).problem(MIN_PCT) is None  # a runaway pump: the same


@pytest.mark.parametrize(
    ("check", "diagnosis"),
    [
        (CouplingCheck(1.0, 0.0003, 0.004, 35006.54, 35006.54, 0.01), "did not change in its last digit"),
        (CouplingCheck(1.0, 0.001, 0.004, 35.00654, 35.01638, 0.01), "1000 times too small, in digits finer"),
        (weighed(1000.0), "1000 times too large (a reply in mg read as g?)"),
        (weighed(0.001), "does not reach this balance's vessel"),  # on whole readability steps: no unit slip
        (weighed(0.002), "does not reach this balance's vessel"),
        (weighed(0.1), "less than the 20 %"),
        (weighed(0.19, U=0.02), "lies within its uncertainty"),
        (weighed(0.05, U=0.28), "lies within its uncertainty"),  # a decoupled vessel on a 1 mg balance: cannot tell
    ],
)
def test_a_balance_that_did_not_is_diagnosed(check, diagnosis):
    problem = check.problem(MIN_PCT)
    assert problem is not None and diagnosis in problem, problem
    assert f"of a {check.commanded_U:g} U prime" in problem


@given(seen_pct=st.floats(0.0, 400.0), U_pct=st.floats(0.0, 50.0))
def test_coupling_is_shown_only_when_the_threshold_lies_below_the_weighing_less_its_uncertainty(seen_pct, U_pct):
    check = CouplingCheck(2.0, seen_pct / 50.0, U_pct / 50.0, 0.0, 1.0, 0.01)
    assert (check.problem(MIN_PCT) is None) == (check.seen_pct - U_pct >= MIN_PCT)


def _world(**balance) -> World:
    config = EmulatorConfig.model_validate({"seed": 5, "balance": balance})
    return World(config, lambda kind, fields: None, lambda line: None)


def _prime_and_weigh(w: World) -> tuple[float, float]:
    """A stable reading (mg), a 1 U prime settled, another."""
    before = parse_weight(w.balance.handle(b"S")[0].encode(), "S")[0]
    w.pump.handle(Frame("1", "PRIME", ("1.000",)))
    w.advance(120.0)
    return before, parse_weight(w.balance.handle(b"S")[0].encode(), "S")[0]


def test_the_emulated_balance_sees_the_prime_and_each_fault_hides_it_its_own_way():
    before, after = _prime_and_weigh(_world())
    assert 7.0 < after - before < 11.0  # 1 U = 10 µL, less the plunger slack
    before, after = _prime_and_weigh(_world(fault="stuck"))
    assert after == before
    before, after = _prime_and_weigh(_world(fault="decoupled"))
    assert abs(after - before) < 0.1
    before, after = _prime_and_weigh(_world(fault="unit-mg"))
    assert 0.007 < after - before < 0.011 and 34.0 < before < 36.0  # 35 g read as 35 mg


def test_a_unit_label_fault_exists_on_mt_sics_only():
    with pytest.raises(ValidationError, match="unit-mg"):
        EmulatorConfig.model_validate({"balance": {"protocol": "sbi", "fault": "unit-mg"}})


def test_every_basal_and_bolus_requirement_holds_the_record_against_the_balance():
    kind = METRICS["record_disagreement"]
    requirements = load_requirements([ROOT / "specs" / "dose-accuracy.yaml"]).values()
    for requirement in requirements:
        checks = [b for b in requirement.acceptance if b.metric == kind.name]
        if requirement.method not in kind.methods:
            assert not checks, requirement.id
        elif requirement.id.startswith("DA-RECORD-"):  # bounds it itself, more tightly
            assert [(b.min, b.max) for b in checks] == [(-5, 5)], requirement.id
        else:
            assert [(b.min, b.max) for b in checks] == [(-50, 100)], requirement.id
            assert checks[0].source.startswith("stated judgement") and checks[0].min_tur is None


def test_a_cross_check_that_excludes_agreement_is_refused_where_it_is(tmp_path):
    text = DOSE.replace("record_cross_check:\n  min: -50", "record_cross_check:\n  min: 10")
    (problem,) = _problems(tmp_path, text)
    assert problem.key == "record_cross_check.min" and "10" in problem.message
