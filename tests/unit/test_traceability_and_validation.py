"""The traceability gate and the tool-validation matrix, on hand-made records."""

from hil.evidence import traceability, validation
from hil.pytest_plugin import failure_class
from hil.specs import load_requirements
from hil.errors import DeviceRefused, TransportError
from hil.evidence.test_evidence import Inconclusive

REQS = load_requirements()


def _collected():
    return {f"t::test[{rid}]": [rid] for rid in REQS}


def test_a_complete_suite_has_no_problem():
    assert traceability.build(REQS, _collected(), None).problems == []


def test_missing_test_unknown_id_and_all_skipped_are_problems():
    collected = _collected()
    del collected["t::test[HS-MAX-001]"]
    collected["t::test[XX-NOPE-001]"] = ["XX-NOPE-001"]
    record = {"selected": {"t::test[IF-ESC-001]": ["IF-ESC-001"], "t::test[IF-PRIO-001]": ["IF-PRIO-001"]},
              "tests": {"t::test[IF-ESC-001]": {"outcome": "skipped"}, "t::test[IF-PRIO-001]": {"outcome": "passed"}}}
    matrix = traceability.build(REQS, collected, record)
    problems = "\n".join(matrix.problems)
    assert "requirement HS-MAX-001 has no test" in problems
    assert "t::test[XX-NOPE-001]: names unknown requirement XX-NOPE-001" in problems
    assert "requirement IF-ESC-001: all its tests were skipped" in problems
    assert "IF-PRIO-001" not in problems and "DA-BASAL-001: not selected in this run" in matrix.notes
    assert "PROBLEM" in traceability.as_text(matrix)


def test_failure_classes():
    class Info:
        def __init__(self, exc):
            self.exc = exc

        def errisinstance(self, kinds):
            return isinstance(self.exc, kinds)

    assert failure_class(Info(TransportError("link lost"))) == "rig"
    assert failure_class(Info(AssertionError("1 of 2 measurements not passed"))) == "product"
    assert failure_class(Info(DeviceRefused("pump", "NOT_ALLOWED"))) == "product"
    assert failure_class(Info(KeyError("poll_s"))) == "test"
    assert failure_class(Info(Inconclusive("1 of 3 measurements not passed"))) == "rig"


def test_the_detection_matrix_marks_missed_extra_and_errors():
    outcomes = [
        validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset()),
        validation.Outcome("good", "r1", frozenset({"A-1"}), frozenset({"A-1"}), frozenset()),
        validation.Outcome("missing", "r2", frozenset({"A-1", "B-1"}), frozenset({"A-1"}), frozenset()),
        validation.Outcome("noisy", "r3", frozenset({"A-1"}), frozenset({"A-1", "C-1"}), frozenset({"C-1"})),
    ]
    text = validation.matrix_text(outcomes)
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert "MISSED" in text and "ERROR" in text and "MISMATCH: missing: missed ['B-1']" in text


def test_observed_failures_from_a_record():
    record = {"tests": {"a": {"requirements": ["A-1"], "outcome": "failed", "failure_class": "product"},
                        "b": {"requirements": ["B-1"], "outcome": "failed", "failure_class": "rig"},
                        "c": {"requirements": ["C-1"], "outcome": "passed"}}}
    assert validation.observed_failures(record) == ({"A-1", "B-1"}, {"B-1"})
