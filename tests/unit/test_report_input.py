"""What the report says of a run: its kind from the record, and the Allure input rewritten from the record (verdict
words, NOT RUN tests, attempts, fixture noise, informational values)."""

import json

import pytest

from hil.evidence import report as reporting
from hil.evidence import report_input, run_kind
from hil.evidence.run import TEST_LABEL
from hil.evidence.run_kind import Ending, Evidence

FINISHED = "2026-01-01T01:00:00+00:00"
CALLED = {"phases": {"setup": {}, "call": {}, "teardown": {}}}


@pytest.mark.parametrize(
    "record, words, evidence",
    [
        ({"finished": FINISHED, "tests": {"a": CALLED}, "rig": {"clock": "real"}}, "COMPLETE", Evidence.DEVICE),
        ({"finished": FINISHED, "interrupted": {"signal": "SIGINT"}, "rig": {"clock": "sim"}}, "INTERRUPTED",
         Evidence.EMULATED),
        ({"finished": None, "tests": {"a": CALLED}, "rig": {"clock": "real"}}, "INTERRUPTED", Evidence.DEVICE),
        ({"finished": FINISHED, "rig_broken": "cannot open rig: pump: /dev/ttyUSB0",
          "tests": {"a": {"phases": {"setup": {}, "teardown": {}}}}, "rig": {"clock": "real"}},
         "STOPPED AT SETUP", Evidence.DEVICE),
        ({"finished": FINISHED, "tests": {"a": CALLED}, "sessions": [{}, {}], "rig": {"clock": "real"}},
         "RESUMED (2 sessions), COMPLETE", Evidence.DEVICE),
        ({"finished": FINISHED, "tests": {"a": {"verdict": "ERROR", "phases": {"setup": {}, "teardown": {}}}},
          "rig": {"clock": "real"}}, "STOPPED AT SETUP", Evidence.DEVICE),  # a driver's own error, not a RigError
        ({"finished": FINISHED, "kind": "places", "unit_endings": {"a": "stopped at setup", "b": "stopped at setup"},
          "rig": {"clock": "real"}}, "STOPPED AT SETUP", Evidence.DEVICE),
        ({"finished": FINISHED, "kind": "places", "unit_endings": {"a": "stopped at setup", "b": "complete"},
          "rig": {"clock": "real"}}, "COMPLETE", Evidence.DEVICE),
        ({"finished": FINISHED, "tests": {"a": CALLED}, "rig": {"clock": "rehearsal"}}, "COMPLETE", Evidence.REHEARSAL),
        ({"finished": FINISHED, "tests": {"a": CALLED},
          "rig": {"clock": "sim", "effective_config": {"seeded_defect": {"violates": ["X-1"]}}}},
         "COMPLETE", Evidence.TOOL_VALIDATION),
        ({"finished": FINISHED, "tests": {"a": CALLED}, "rig": {"clock": "sim"},
          "tool_validation": {"id": "v1", "rig": "nominal", "seed": None}}, "COMPLETE", Evidence.TOOL_VALIDATION),
    ],
)
def test_the_kind_of_a_run_is_read_from_its_record(record, words, evidence):
    kind = run_kind.of(record)
    assert kind.words == words and kind.evidence is evidence
    title = kind.title("R1")
    assert words in title and (evidence.disclaimer or "") in title
    assert (evidence is Evidence.DEVICE) == ("not evidence" not in title)


def _result(test_id, name, verdict=None, start=0, steps=(), attachments=()):
    labels = [{"name": TEST_LABEL, "value": test_id}, {"name": "epic", "value": "Dose accuracy"}]
    labels += [{"name": "verdict", "value": verdict}] if verdict else []
    return {"uuid": f"{test_id}-{start}", "name": name, "status": "passed", "start": start, "labels": labels,
            "steps": list(steps), "attachments": list(attachments)}


@pytest.fixture
def interrupted_then_resumed(tmp_path):
    """A run of three selected tests: A passed, B interrupted in session 1 and passed in session 2, C never ran."""
    run_dir = tmp_path / "runs" / "R1"
    results = run_dir / "allure-results"
    results.mkdir(parents=True)
    (results / "m1-attachment.json").write_text(json.dumps({"name": "bolus_max", "outcome": "PASS"}))
    (results / "m2-attachment.json").write_text(json.dumps({"name": "bolus_sd", "outcome": "INFO"}))
    (results / "csv-attachment.csv").write_text("t,mass\n")
    step = {"name": "bolus_max = 0.06 U, limits ≤ 0.119 U: PASS", "status": "passed",
            "attachments": [{"name": "bolus_max", "source": "m1-attachment.json", "type": "application/json"}]}
    info = {"name": "bolus_sd = 12 %, limits reported: INFO", "status": "passed",
            "attachments": [{"name": "bolus_sd", "source": "m2-attachment.json", "type": "application/json"}]}
    for result in (
        _result("A", "DA-BOLUS-001: bolus", "PASS", 1, steps=[step, info]),
        _result("B", "DA-BOLUS-002: bolus", None, 2),
        _result("B", "DA-BOLUS-002: bolus", "PASS", 5),
    ):
        (results / f"{result['uuid']}-result.json").write_text(json.dumps(result))
    container = {"uuid": "c1", "children": ["A-1"], "befores": [{"name": "rig"}],
                 "afters": [{"name": "evidence::1", "attachments": [{"name": "raw", "source": "csv-attachment.csv",
                                                                     "type": "text/csv"}]},
                            {"name": "evidence::<lambda>"}]}
    (results / "c1-container.json").write_text(json.dumps(container))
    record = {
        "run_id": "R1",
        "finished": FINISHED,
        "rig": {"clock": "sim"},
        "requirements": {"DA-BOLUS-003": {"title": "bolus at 5 U", "area": "Dose accuracy"}},
        "selected": {"A": ["DA-BOLUS-001"], "B": ["DA-BOLUS-002"], "C": ["DA-BOLUS-003"]},
        "collected": {"A": [], "B": [], "C": [], "D": []},
        "selection": {"-k": "DA-BOLUS", "-m": None},
        "tests": {
            "A": {"verdict": "PASS", **CALLED},
            "B": {"verdict": "PASS", **CALLED,
                  "previous_attempts": [{"verdict": "INTERRUPTED", "reason": "interrupted by SIGINT"}]},
        },
        "sessions": [
            {"started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:10:00+00:00", "exit_status": 130,
             "interrupted": {"signal": "SIGINT"}, "ran": ["A", "B"]},
            {"started": "2026-01-01T00:20:00+00:00", "finished": FINISHED, "exit_status": 0, "ran": ["B"]},
        ],
    }
    return run_dir, record


def test_the_report_input_says_every_verdict_and_every_attempt(interrupted_then_resumed, tmp_path):
    run_dir, record = interrupted_then_resumed
    kind = run_kind.of(record)
    seals = [{"run_id": "R1", "sealed_at": "2026-01-01T00:10:05+00:00", "kind": "interrupted", "line": 7,
              "manifest_sha256": "ab" * 32, "event": "sealed"}]
    config = report_input.write(run_dir, record, kind, tmp_path / "input", {"run": "R1"}, seals)
    found = [json.loads(p.read_text()) for p in (tmp_path / "input").glob("*-result.json")]
    results = {next(label["value"] for label in r["labels"] if label["name"] == TEST_LABEL): r for r in found}
    assert sorted(results) == ["A", "B", "C"]  # one result per selected test: B's attempt is not a retry
    assert results["A"]["name"] == "PASS · DA-BOLUS-001: bolus"
    assert results["C"]["name"] == "NOT RUN · DA-BOLUS-003: bolus at 5 U" and results["C"]["status"] == "unknown"
    attempt = results["B"]["steps"][0]
    assert attempt["name"].startswith("earlier attempt 1: INTERRUPTED: interrupted by SIGINT")
    assert attempt["status"] == "broken"
    steps = results["A"]["steps"]
    assert steps[0]["status"] == "passed" and steps[1]["status"] == "skipped"
    assert steps[1]["name"].startswith("information only, not judged: bolus_sd")
    assert [a["name"] for a in results["A"]["attachments"]] == ["raw"]  # the fixture's attachment, in its test
    assert not list((tmp_path / "input").glob("*-container.json"))
    allure = json.loads(config.read_text())
    assert allure["name"] == "Insulin-pump safety verification: R1 · RESUMED (2 sessions), COMPLETE · " + (
        "EMULATED RIG: not evidence of a device"
    )
    shown = allure["variables"]
    assert shown["verdicts"] == "1 NOT RUN, 2 PASS of 3"
    assert shown["selection"] == "-k 'DA-BOLUS': 3 of 4 tests"
    assert "sealed interrupted on ledger line 7" in shown["session 1"]
    assert shown["session 2"].startswith("ran 1 test(s), exit 0, sealed by this report's seal; ")
    assert (tmp_path / "input" / "environment.properties").read_text() == "run=R1\n"


def test_an_interrupted_run_names_the_tests_it_never_reached(interrupted_then_resumed, tmp_path):
    run_dir, record = interrupted_then_resumed
    record = record | {"interrupted": {"signal": "SIGINT"}, "sessions": record["sessions"][:1]}
    report_input.write(run_dir, record, run_kind.of(record), tmp_path / "input", {}, [])
    results = [json.loads(p.read_text()) for p in (tmp_path / "input").glob("*-result.json")]
    not_run = [r for r in results if r["name"].startswith("NOT RUN")]
    assert len(not_run) == 1 and "interrupted before it" in not_run[0]["statusDetails"]["message"]


def test_history_is_kept_per_rig_evidence_and_selection():
    record = {"selected": {"A": [], "B": []}, "run_kind": {"evidence": "emulated rig"}}
    same = report_input.history_name(record, "bench-1")
    assert same == report_input.history_name(dict(record), "bench-1")
    assert same != report_input.history_name(record | {"selected": {"A": []}}, "bench-1")
    assert same != report_input.history_name(record | {"run_kind": {"evidence": "tool validation"}}, "bench-1")
    assert same != report_input.history_name(record, "bench-2")
    assert Ending.STOPPED_AT_SETUP.value == "stopped at setup"


def test_the_about_page_gives_every_overview_and_metadata_value_in_full(interrupted_then_resumed):
    _, record = interrupted_then_resumed
    seals = [{"run_id": "R1", "sealed_at": "2026-01-01T00:10:05+00:00", "kind": "interrupted", "line": 7,
              "manifest_sha256": "ab" * 32, "event": "sealed"}]
    kind = run_kind.of(record)
    overview = report_input.overview(record, kind, seals)
    text = reporting.about_text(kind.title("R1"), overview, {"sha256 specs/a.yaml": "cd" * 32})
    lines = text.splitlines()
    assert lines[0].startswith("Insulin-pump safety verification: R1 · RESUMED (2 sessions), COMPLETE")
    assert f"manifest sha256 {'ab' * 32})" in text and f"sha256 specs/a.yaml: {'cd' * 32}" in lines


def test_attempts_a_killed_harness_left_no_result_of_are_still_shown_and_never_misnamed(interrupted_then_resumed,
                                                                                          tmp_path):
    """B has two earlier attempts, the first killed (no Allure result), and this session never reached it; C was
    started and killed (phases, no verdict): B is NOT RUN with both attempts, C INTERRUPTED, not NOT RUN."""
    run_dir, record = interrupted_then_resumed
    record["tests"]["B"] = {"requirements": ["DA-BOLUS-002"], "verdict": None, "phases": {}, "previous_attempts": [
        {"verdict": None, "reason": None, "folder": "b.attempt-1"},
        {"verdict": "INTERRUPTED", "reason": "interrupted by SIGINT", "folder": "b.attempt-2"}]}
    record["tests"]["C"] = {"requirements": ["DA-BOLUS-003"], "verdict": None, "phases": {"setup": {}}}
    for stale in run_dir.glob("allure-results/B-5-result.json"):
        stale.unlink()  # B's only result is its second attempt's
    report_input.write(run_dir, record, run_kind.of(record), tmp_path / "input", {}, [])
    found = [json.loads(p.read_text()) for p in (tmp_path / "input").glob("*-result.json")]
    results = {next(label["value"] for label in r["labels"] if label["name"] == TEST_LABEL): r for r in found}
    assert results["B"]["name"] == "NOT RUN · DA-BOLUS-002: " and results["B"]["status"] == "unknown"
    steps = [step["name"] for step in results["B"]["steps"]]
    assert steps[0].startswith("earlier attempt 1: INTERRUPTED: ended before its verdict (its evidence kept in "
                               "tests/b.attempt-1)")
    assert steps[1].startswith("earlier attempt 2: INTERRUPTED: interrupted by SIGINT (its evidence kept in "
                               "tests/b.attempt-2)")
    assert steps[2].startswith("what the earlier attempts' results held")
    assert results["C"]["name"].startswith("INTERRUPTED · DA-BOLUS-003") and results["C"]["status"] == "broken"
    assert report_input.overview(record, run_kind.of(record), [])["verdicts"] == "1 INTERRUPTED, 1 NOT RUN, 1 PASS of 3"


def test_a_partial_validations_campaign_says_partial_before_anything_else():
    scope = {"whole_catalogue": False, "described": "1 of 30 seeded-defect rigs (only x) and the nominal rig"}
    record = {"finished": FINISHED, "tests": {"a": CALLED}, "rig": {"clock": "sim"},
              "tool_validation": {"id": "V1", "rig": "x", "seed": None, "scope": scope}}
    assert run_kind.of(record).validation == ("PARTIAL: ran 1 of 30 seeded-defect rigs (only x) and the nominal rig; "
                                              "validation V1, rig x")
    whole = record | {"tool_validation": record["tool_validation"] | {"scope": {"whole_catalogue": True}}}
    assert run_kind.of(whole).validation == "validation V1, rig x"


def test_an_older_runs_results_are_matched_to_its_record_when_its_report_is_rebuilt(tmp_path):
    """Results written before they carried their node id: matched by allure-pytest's full name and the requirement
    parameter, never shown twice (once as themselves, once as NOT RUN)."""
    run_dir = tmp_path / "runs" / "OLD"
    (run_dir / "allure-results").mkdir(parents=True)
    old = {"uuid": "u1", "name": "DA-BOLUS-001: bolus", "status": "passed", "start": 1,
           "fullName": "tests.safety.test_dose_accuracy#test_bolus_accuracy",
           "parameters": [{"name": "requirement", "value": "'DA-BOLUS-001'"}], "labels": [{"name": "epic", "value": "x"}]}
    (run_dir / "allure-results" / "u1-result.json").write_text(json.dumps(old))
    node = "tests/safety/test_dose_accuracy.py::test_bolus_accuracy[DA-BOLUS-001]"
    record = {"run_id": "OLD", "finished": FINISHED, "rig": {"clock": "sim"}, "selected": {node: ["DA-BOLUS-001"]},
              "tests": {node: {"verdict": "PASS", **CALLED}}}
    report_input.write(run_dir, record, run_kind.of(record), tmp_path / "input", {}, [])
    (shown,) = [json.loads(p.read_text()) for p in (tmp_path / "input").glob("*-result.json")]
    assert shown["name"] == "PASS · DA-BOLUS-001: bolus"


@pytest.mark.parametrize("figures, said", [
    ([True], None),
    ([False], "none drawn (hil verify --no-figures): measurements, verdicts and raw data as in any run"),
    ([True, False], "not drawn in session(s) 2 (hil verify --no-figures)"),
    ([None], None),  # a record from before the option: its sessions drew them
])
def test_a_run_without_figures_says_so(figures, said):
    record = {"finished": FINISHED, "tests": {"a": CALLED}, "rig": {"clock": "sim"},
              "sessions": [{"started": FINISHED} | ({"figures": f} if f is not None else {}) for f in figures]}
    assert report_input.overview(record, run_kind.of(record), []).get("figures") == said
