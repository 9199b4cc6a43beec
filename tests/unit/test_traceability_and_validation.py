"""The traceability gate and the tool-validation matrix, on hand-made records."""

import csv
import io
import json

import pytest

from hil.evidence import traceability, validation
from hil.specs import load_requirements
from hil.errors import DeviceRefused, TransportError
from hil.evidence.per_test import Inconclusive
from hil.evidence.verdict import FailureClass, classify, judge

REQS = load_requirements()


WHOLE = validation.Scope(seeds=1, run=("d",), not_run=())


def _collected():
    return {f"t::test[{rid}]": [rid] for rid in REQS}


def test_a_complete_suite_has_no_problem():
    assert traceability.build(REQS, _collected(), None).problems == []


def test_missing_test_unknown_id_and_all_skipped_are_problems():
    collected = _collected()
    del collected["t::test[HS-MAX-001]"]
    collected["t::test[XX-NOPE-001]"] = ["XX-NOPE-001"]
    record = {"selected": {"t::test[IF-ESC-001]": ["IF-ESC-001"], "t::test[IF-PRIO-001]": ["IF-PRIO-001"]},
              "tests": {"t::test[IF-ESC-001]": {"verdict": "SKIPPED", "reason": "pump driver 'x' does not declare CGM input"},
                        "t::test[IF-PRIO-001]": {"verdict": "PASS"}}}
    matrix = traceability.build(REQS, collected, record)
    problems = "\n".join(matrix.problems)
    assert "requirement HS-MAX-001 has no test" in problems
    assert "t::test[XX-NOPE-001]: names unknown requirement XX-NOPE-001" in problems
    assert "requirement IF-ESC-001: all its tests were skipped: pump driver 'x' does not declare CGM input" in problems
    assert "IF-PRIO-001" not in problems and "DA-BASAL-001: not selected in this run" in matrix.notes
    assert "PROBLEM" in traceability.as_text(matrix)


def test_the_bound_table_gives_each_judged_value_against_its_limits_one_line_each():
    measured = [{"name": "bolus_max", "value": 0.3012, "uncertainty": 0.215, "unit": "U", "low": None, "high": 0.119,
                 "outcome": "INCONCLUSIVE"},
                {"name": "bolus_sd", "value": 12.9, "uncertainty": 0.0, "unit": "%", "low": None, "high": None,
                 "outcome": "INFO"}]
    record = {"selected": {"t::test[DA-BOLUS-001]": ["DA-BOLUS-001"], "t::test[IF-PRIO-001]": ["IF-PRIO-001"]},
              "tests": {"t::test[DA-BOLUS-001]": {"verdict": "INCONCLUSIVE", "measurements": measured}}}
    rows = list(csv.reader(io.StringIO(traceability.bound_table(traceability.build(REQS, _collected(), record),
                                                                 record))))
    assert rows[0] == traceability.BOUND_COLUMNS
    by_requirement = {row[0]: row for row in rows[1:]}
    assert by_requirement["DA-BOLUS-001"] == ["DA-BOLUS-001", "bolus_max", "≤ 0.119 U", "0.3012 ± 0.215 U",
                                              "INCONCLUSIVE", "INCONCLUSIVE", "test", ""]
    assert by_requirement["IF-PRIO-001"][5] == "NOT RUN" and by_requirement["HS-MAX-001"][5] == "not selected"
    assert sum(row[0] == "DA-BOLUS-001" for row in rows) == 1  # the informational value is not a bound's line


def test_failure_classes():
    assert classify(TransportError("link lost")) is FailureClass.RIG
    assert classify(AssertionError("1 of 2 measurements not passed")) is FailureClass.PRODUCT
    assert classify(DeviceRefused("pump", "NOT_ALLOWED")) is FailureClass.PRODUCT
    assert classify(KeyError("poll_s")) is FailureClass.TEST
    assert classify(Inconclusive("1 of 3 measurements not passed")) is FailureClass.RIG


def test_the_detection_matrix_marks_missed_extra_and_errors():
    outcomes = [
        validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset()),
        validation.Outcome("good", "r1", frozenset({"A-1"}), frozenset({"A-1"}), frozenset()),
        validation.Outcome("missing", "r2", frozenset({"A-1", "B-1"}), frozenset({"A-1"}), frozenset()),
        validation.Outcome("noisy", "r3", frozenset({"A-1"}), frozenset({"A-1", "C-1"}), frozenset({"C-1"})),
    ]
    text = validation.matrix_text(outcomes, WHOLE)
    assert [o.ok for o in outcomes] == [True, True, False, False]
    assert "MISSED" in text and "ERROR" in text and "MISMATCH: missing: missed ['B-1']" in text


def test_over_seeds_each_cell_counts_its_campaigns_with_a_confidence_limit():
    def run(rig, seed, expected, observed, errors=()):
        return validation.Outcome(rig, f"{rig}-{seed}", frozenset(expected), frozenset(observed), frozenset(errors),
                                  seed)

    outcomes = [run("nominal", s, (), ()) for s in range(20)]
    outcomes += [run("slow", s, {"A-1"}, {"A-1"}) for s in range(20)]
    outcomes += [run("flaky", s, {"A-1"}, {"A-1"} if s < 19 else ()) for s in range(20)]
    outcomes += [run("noisy", s, {"A-1"}, {"A-1", "B-1"} if s == 3 else {"A-1"}) for s in range(20)]
    cells = {(c.rig, c.requirement): c for c in validation.cells(outcomes)}
    assert cells["slow", "A-1"].text == "20/20" and cells["slow", "A-1"].limit == pytest.approx(0.8808, abs=1e-4)
    assert cells["flaky", "A-1"].text == "19/20 MISSED" and not cells["flaky", "A-1"].ok
    assert cells["noisy", "B-1"].text == "EXTRA 1/20" and not cells["noisy", "B-1"].ok
    assert cells["nominal", "B-1"].text == "." and cells["nominal", "B-1"].limit == pytest.approx(0.1192, abs=1e-4)
    text = validation.matrix_text(outcomes, WHOLE)
    assert "slow × A-1" in text and "20/20  ≥  88.1 %" in text
    assert "false failures of the nominal rig: 0/20 campaigns" in text and "upper limit 11.9 %" in text
    assert "MISMATCH: flaky seed 19: missed ['A-1']" in text and "noisy seed 3: missed [], extra ['B-1']" in text
    summary = validation.as_json(outcomes, WHOLE)
    assert not summary["ok"] and len(summary["runs"]) == 80
    assert {"rig": "slow", "requirement": "A-1", "expected": True, "tolerated": False, "failed": 20, "inconclusive": 0,
            "errors": 0, "runs": 20, "detection_lower_95": 0.8808, "ok": True} in summary["cells"]


def test_full_seeds_a_defects_other_requirements_are_counted_over_the_campaigns_that_judged_them():
    """hil validate --seeds 20 --full-seeds 5: a defect rig's campaigns after its fifth judge only the requirement it
    declares; its other cells count the five that judged them, with their wider limit, said in the matrix."""
    def run(rig, seed, observed, judged):
        declared = {"nominal": (), "d": {"A-1"}, "e": {"B-1"}}[rig]
        return validation.Outcome(rig, f"{rig}-{seed}", frozenset(declared), frozenset(observed), frozenset(), seed,
                                  judged=frozenset(judged))

    outcomes = [run("nominal", s, (), {"A-1", "B-1"}) for s in range(20)]
    outcomes += [run("e", s, {"B-1"}, {"A-1", "B-1"} if s < 5 else {"B-1"}) for s in range(20)]
    outcomes += [run("d", s, {"A-1"}, {"A-1", "B-1"} if s < 5 else {"A-1"}) for s in range(20)]
    cells = {(c.rig, c.requirement): c for c in validation.cells(outcomes)}
    assert cells["d", "A-1"].runs == 20 and cells["d", "A-1"].text == "20/20"
    assert cells["d", "B-1"].runs == 5 and cells["d", "B-1"].limit == pytest.approx(0.3511, abs=1e-4)
    assert cells["nominal", "B-1"].runs == 20
    scope = validation.Scope(seeds=20, run=("d", "e"), not_run=(), full_seeds=5)
    text = validation.matrix_text(outcomes, scope)
    assert "first 5 seed(s), where every test ran: none in 5 bounds their probability at 35.1 %" in text
    assert "against 11.9 % over all 20" in text and "on its first 5, on the others only the tests" in text
    assert "validation: every seeded defect caught by its requirements in all 20 seeds, and by exactly them in the " \
           "first 5 (every test), nominal clean" in text and "detection over 20 seed(s)" in text
    assert {"rig": "d", "requirement": "B-1", "expected": False, "tolerated": False, "failed": 0, "inconclusive": 0,
            "errors": 0, "runs": 5, "false_failure_upper_95": 0.3511, "ok": True} in validation.as_json(
                outcomes, scope)["cells"]
    extra = run("d", 3, {"A-1", "B-1"}, {"A-1", "B-1"})  # an extra failure where it was judged is still one
    assert not extra.ok and not validation.cells(outcomes[:-20] + [extra])[-1].ok


def test_a_campaign_without_a_record_or_a_declared_requirement_nobody_judged_is_never_a_detection():
    """Found in review of --full-seeds: a campaign that left no record counted as judging nothing, and a declared
    requirement that no campaign's tests judged (a typo in `violates`) showed as 0/0 and ok."""
    lost = validation.Outcome("d", "r2", frozenset({"A-1"}), frozenset(), frozenset({"(no record)"}), 2,
                              recorded=False)
    judged = validation.Outcome("d", "r1", frozenset({"A-1"}), frozenset({"A-1"}), frozenset(), 1,
                                judged=frozenset({"A-1"}))
    cell = next(c for c in validation.cells([judged, lost]) if c.requirement == "A-1")
    assert (cell.runs, cell.errors, cell.text, cell.ok) == (2, 1, "ERROR 1/2", False)
    typo = validation.Outcome("e", "r3", frozenset({"A-9"}), frozenset(), frozenset(), 1, judged=frozenset({"A-1"}))
    cell = next(c for c in validation.cells([typo]) if c.requirement == "A-9")
    assert (cell.runs, cell.text, cell.ok) == (0, "NOT JUDGED", False)
    assert "e × A-9  no campaign's tests judged it" in validation.matrix_text([typo], WHOLE)


def test_a_requirement_the_defect_may_fail_is_reported_never_a_mismatch():
    may = frozenset({"B-1"})
    outcomes = [validation.Outcome("nominal", "r", frozenset(), frozenset(), frozenset(), 1),
                validation.Outcome("d", "r1", frozenset({"A-1"}), frozenset({"A-1", "B-1"}), frozenset(), 1, may),
                validation.Outcome("d", "r2", frozenset({"A-1"}), frozenset({"A-1"}), frozenset(), 2, may)]
    assert all(o.ok for o in outcomes)
    cell = next(c for c in validation.cells(outcomes) if (c.rig, c.requirement) == ("d", "B-1"))
    assert cell.text == "may 1/2" and cell.ok
    text = validation.matrix_text(outcomes, WHOLE)
    assert "d × B-1" in text and "(may fail" in text and "nominal clean" in text
    assert "false_failure_upper_95" not in next(c for c in validation.as_json(outcomes, WHOLE)["cells"]
                                                if c["requirement"] == "B-1" and c["rig"] == "d")
    missed = validation.Outcome("d", "r3", frozenset({"A-1"}), frozenset({"B-1"}), frozenset(), 3, may)
    assert not missed.ok  # what it must fail, it must still fail


def test_an_error_in_any_seed_is_not_a_detection():
    outcomes = [validation.Outcome("nominal", "r", frozenset(), frozenset(), frozenset(), 1),
                validation.Outcome("d", "r1", frozenset({"A-1"}), frozenset({"A-1"}), frozenset(), 1),
                validation.Outcome("d", "r2", frozenset({"A-1"}), frozenset({"A-1"}), frozenset({"A-1"}), 2)]
    cell = next(c for c in validation.cells(outcomes) if c.rig == "d")
    assert cell.text == "ERROR 1/2" and not cell.ok and "ERROR" in validation.matrix_text(outcomes, WHOLE)


def test_observed_failures_from_a_record():
    record = {"tests": {"a": {"requirements": ["A-1"], "verdict": "FAIL", "failure_class": "product"},
                        "b": {"requirements": ["B-1"], "verdict": "INCONCLUSIVE", "failure_class": "rig"},
                        "c": {"requirements": ["C-1"], "verdict": "PASS"},
                        "d": {"requirements": ["D-1"], "verdict": "INTERRUPTED", "failure_class": None},
                        "e": {"requirements": ["E-1"], "verdict": None, "outcome": "passed"}}}
    assert validation.observed_failures(record) == ({"A-1", "B-1", "D-1", "E-1"}, {"B-1"}, {"D-1", "E-1"})
    # a campaign cut short between tests: the selected test it never reached is no pass
    cut = {"selected": {"c": ["C-1"], "f": ["F-1"]}, "tests": {"c": record["tests"]["c"]}}
    assert validation.observed_failures(cut) == ({"F-1"}, set(), {"F-1"})


def test_an_inconclusive_declared_requirement_is_caught_but_not_counted_as_a_fail():
    """Found by `hil validate --seeds 20`: stroke-volume-plus-8pct measured DA-BOLUS-005 at 5.435 ± 0.867 % with
    seed 20261142 (19 other seeds: 6.2-10.1 %), INCONCLUSIVE against its ±5 % bound, and the matrix called it a rig
    error. Never a PASS, so caught; never a FAIL either, so not in the detection count."""
    outcomes = [validation.Outcome("nominal", f"n{k}", frozenset(), frozenset(), frozenset(), k) for k in range(1, 21)] + [
        validation.Outcome("d", f"r{k}", frozenset({"A-1"}), frozenset({"A-1"}), frozenset(), k,
                           undecided=frozenset({"A-1"}) if k == 20 else frozenset()) for k in range(1, 21)]
    cell = next(c for c in validation.cells(outcomes) if c.rig == "d")
    assert cell.ok and cell.text == "19/20+1?" and round(100 * cell.limit, 1) == 80.4
    text = validation.matrix_text(outcomes, WHOLE)
    assert "d × A-1          19/20  ≥  80.4 %  (1 INCONCLUSIVE, never PASS)" in text
    assert "validation: every seeded defect caught by exactly its requirements, nominal clean" in text
    nominal_undecided = [validation.Outcome("nominal", "r", frozenset(), frozenset({"A-1"}), frozenset(), 1,
                                            undecided=frozenset({"A-1"}))]
    assert not nominal_undecided[0].ok  # on the nominal rig it is a false failure, as any not-passed requirement


def test_the_matrix_shows_the_records_verdict_class_and_reason():
    judgement = judge(["x"], [], ran_to_end=True)  # returned without measuring: never PASS
    record = {"selected": {"t::test[DA-BOLUS-001]": ["DA-BOLUS-001"]},
              "tests": {"t::test[DA-BOLUS-001]": {"requirements": ["DA-BOLUS-001"], **judgement.as_record()}}}
    row = next(r for r in traceability.build(REQS, _collected(), record).rows if r["requirement"] == "DA-BOLUS-001")
    assert (row["verdict"], row["outcome"], row["failure_class"]) == ("ERROR", "error", "test")
    assert row["reason"] == judgement.reason and "DA-BOLUS-001" in traceability.as_text(traceability.build(
        REQS, _collected(), record))


def test_a_partial_validation_says_its_scope_and_never_claims_the_catalogue():
    """hil validate --only or -k runs part of the seeded-defect catalogue: the matrix, its JSON and the verdict line
    say what ran and what did not, and never "every seeded defect"."""
    outcomes = [validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset()),
                validation.Outcome("d", "r1", frozenset({"A-1"}), frozenset({"A-1"}), frozenset())]
    partial = validation.Scope(seeds=1, run=("d",), not_run=("e", "f"))
    text = validation.matrix_text(outcomes, partial)
    assert "every seeded defect" not in text
    assert "validation: PARTIAL (1 of 3 seeded-defect rigs (only d) and the nominal rig, 1 seed(s) each, every test)" in text
    scope = validation.as_json(outcomes, partial)["scope"]
    assert scope["whole_catalogue"] is False and scope["rigs_not_run"] == ["e", "f"] and scope["seeds"] == 1
    selected = validation.Scope(seeds=2, run=("d", "e", "f"), not_run=(), k="DA")
    assert not selected.whole and "the tests -k 'DA' selects" in validation.matrix_text(outcomes, selected)
    assert "every seeded defect caught" in validation.matrix_text(outcomes, WHOLE)


def test_a_selection_in_which_no_rig_fails_anything_gives_a_matrix_without_columns():
    """hil validate -k on tests none of the defects declares: every rig clean, no requirement to show (it raised)."""
    outcomes = [validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset()),
                validation.Outcome("d", "r1", frozenset(), frozenset(), frozenset())]
    text = validation.matrix_text(outcomes, validation.Scope(seeds=1, run=("d",), not_run=(), k="X-1"))
    assert "false failures of the nominal rig: 0/1" in text and "validation: PARTIAL" in text


def test_a_requeued_campaign_is_named_with_the_worker_it_lost():
    lost = "worker tcp://10.0.0.2:4000 on bench-2 lost mid-campaign (its run R0 left unfinished or interrupted); re-queued"
    outcomes = [validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset(), requeued=(lost,),
                                   worker="tcp://10.0.0.3:4000 (bench-3)")]
    text = validation.matrix_text(outcomes, WHOLE)
    assert f"nominal (run r0, on tcp://10.0.0.3:4000 (bench-3)): {lost}" in text
    (run,) = validation.as_json(outcomes, WHOLE)["runs"]
    assert run["requeued"] == [lost] and run["worker"] == "tcp://10.0.0.3:4000 (bench-3)"


def test_tests_left_out_of_a_rig_are_shown_not_run_and_the_catalogue_not_claimed():
    """hil validate --in-areas (CI): a defect rig that did not run a requirement's test (outside its areas) shows
    "-" in its cell, not "." (never failed), the legend says why, the JSON has no limit for it, and the validation is
    PARTIAL."""
    outcomes = [validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset()),
                validation.Outcome("a", "r1", frozenset({"AID-EFFECT-001"}), frozenset({"AID-EFFECT-001"}),
                                   frozenset()),
                validation.Outcome("o", "r2", frozenset({"OC-ALARM-001"}), frozenset({"OC-ALARM-001"}), frozenset(),
                                   judged=frozenset({"OC-ALARM-001"}))]
    scope = validation.Scope(seeds=1, run=("a", "o"), not_run=(), in_areas=True)
    cells = {(c.rig, c.requirement): c for c in validation.cells(outcomes)}
    assert cells["o", "AID-EFFECT-001"].text == "-" and cells["o", "AID-EFFECT-001"].ok
    assert cells["nominal", "AID-EFFECT-001"].text == "." and cells["a", "OC-ALARM-001"].text == "."
    text = validation.matrix_text(outcomes, scope)
    assert "- : not run on that rig: outside the areas of the requirements the defect declares" in text
    assert "every seeded defect caught" not in text and "validation: PARTIAL" in text
    assert "among the tests it ran" in text
    matrix = validation.as_json(outcomes, scope)
    assert matrix["scope"]["in_areas"] is True and not scope.whole
    json.dumps(matrix, allow_nan=False)  # a cell no campaign judged has no limit: 0 of 0 gives none, never NaN
    assert "false_failure_upper_95" not in next(c for c in matrix["cells"] if c["rig"] == "o" and c["runs"] == 0)


def test_a_defect_rig_leaves_out_the_tests_outside_its_areas():
    """The plan's tests left out of each defect rig's campaigns: those none of whose requirements is in an area of
    its declared or tolerated ones; a test that also judges a requirement of its areas stays, and the -k built keeps
    the user's selection."""
    from hil.run.validate import outside_areas, skipping

    trace = {f"t.py::test[{rid}]": [rid] for rid in ("AID-EFFECT-001", "HS-EFFECT-001", "OC-ALARM-001", "AID-IOB-001")}
    trace["t.py::test_both"] = ["HS-EFFECT-001", "OC-ALARM-001"]
    assert outside_areas(trace, REQS, frozenset({"OC-ALARM-001"})) == {
        "t.py::test[AID-EFFECT-001]", "t.py::test[HS-EFFECT-001]", "t.py::test[AID-IOB-001]"}
    assert outside_areas(trace, REQS, frozenset({"AID-IOB-001"})) == {
        "t.py::test[HS-EFFECT-001]", "t.py::test[OC-ALARM-001]", "t.py::test_both"}
    assert outside_areas(trace, REQS, frozenset({"AID-IOB-001", "HS-MAX-001", "OC-STOP-001"})) == set()
    assert skipping("DA or AID", frozenset({"t.py::test[AID-EFFECT-001]"})) == (
        "(DA or AID) and not (test[AID-EFFECT-001])")


def test_the_campaigns_of_a_plan_in_areas_leave_out_exactly_the_tests_outside_them(tmp_path):
    """The catalogue's plan with --in-areas: an occlusion defect's campaign selects only the occlusion tests and must
    run them all; an auto-mode defect's only the automated-delivery tests; the nominal rig's selects everything; a
    defect's later seeds (--full-seeds) stay declared-only."""
    from hil import project
    from hil.run import validate as validate_run
    from hil.run.suites import collect_trace

    the_plan = validate_run.plan(project.defect_rigs(), project.default_rig(),
                                 ["occlusion-no-backoff", "aid-no-max-basal-cap"], 2, 1, None, collect_trace, REQS)
    planned = validate_run.campaigns(the_plan, tmp_path, report=False, all_reports=False, operator="test")
    by_rig = {(c.rig, c.seed): (n, c) for n, c in enumerate(planned.campaigns)}
    every_test = set(the_plan.trace)
    nominal = [c for c in planned.campaigns if c.rig == "nominal"]
    assert nominal and all(c.k is None for c in nominal)
    for rig, area in (("occlusion-no-backoff", "OC-"), ("aid-no-max-basal-cap", "AID-")):
        ran = {node for node in every_test if f"[{area}" in node}
        first = min(seed for name, seed in by_rig if name == rig)
        n, campaign = by_rig[rig, first]
        assert campaign.k.startswith("not (") and planned.must_run[n] == ran and len(ran) >= 5
        assert all(node.rsplit("::", 1)[1] in campaign.k for node in every_test - ran)
        later_n, later = by_rig[rig, first + 1]
        declared_k, declared_tests = validate_run.declared_only(the_plan.trace, the_plan.expected[rig])
        assert (later.k, planned.must_run[later_n]) == (declared_k, declared_tests)


def test_in_areas_with_a_selection_is_refused_and_the_extra_failure_line_says_of_its_areas():
    """-k cuts each rig's declarations to its selection, so with --in-areas a rig declaring nothing there would run
    nothing (an empty run, read as no record: a MISMATCH): refused before anything runs. With --full-seeds, the
    extra-failure line says the first seeds ran every test of a rig's areas, not every test."""
    from hil import project
    from hil.run import validate as validate_run

    with pytest.raises(validate_run.PlanError, match="--in-areas and -k: choose one") as refused:
        validate_run.plan(project.defect_rigs(), project.default_rig(), None, 1, None, "DA-BOLUS-001",
                          lambda k: {}, REQS)
    assert refused.value.exit_status == 2
    outcomes = [validation.Outcome("nominal", "r0", frozenset(), frozenset(), frozenset())]
    text = validation.matrix_text(outcomes, validation.Scope(seeds=3, run=(), not_run=(), full_seeds=1, in_areas=True))
    assert "first 1 seed(s), where every test of its areas ran" in text
