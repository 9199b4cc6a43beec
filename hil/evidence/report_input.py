"""What the HTML report is built from: the run's own Allure results, read beside its record and written anew into a
folder of their own (never the run's `allure-results/`, so a report rebuilt later starts from the same input).

On every page the run says what it is (its kind in the report's name and overview, hil.evidence.run_kind). Every
selected test is there with the project's verdict word in its title, NOT RUN where it never started. A test run
again after an interrupt shows its earlier attempts inside it, as attempts, not as Allure retries. The fixtures'
set-up and tear-down entries are folded into their test (their attachments kept). The audit documents (the
traceability matrix, the detection matrix) are the report's global attachments, not tests."""

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from pathlib import Path

from hil.evidence.measurements import Outcome
from hil.evidence.run import TEST_LABEL
from hil.evidence.run_kind import RunKind
from hil.evidence.verdict import NOT_RUN, Verdict, shown_word

AUDIT = "audit"  # the run folder's audit documents, shown as the report's global attachments
HIDDEN_LABELS = ["host", "thread", "framework", "language", "package", "parentSuite", "suite", "subSuite", TEST_LABEL]
# Allure's status for each verdict: its colours and counts; the verdict word itself is in every title
ALLURE_STATUS = {
    Verdict.PASS: "passed",
    Verdict.FAIL: "failed",
    Verdict.INCONCLUSIVE: "broken",
    Verdict.ERROR: "broken",
    Verdict.INTERRUPTED: "broken",
    Verdict.SKIPPED: "skipped",
}
VERDICT_CATEGORIES = [  # the report's categories are the project's verdicts, not Allure's product/test errors
    {"name": "FAIL (the pump failed a requirement)", "matchers": {"labels": {"verdict": "^FAIL$"}}},
    {"name": "INCONCLUSIVE (the rig could not decide)", "matchers": {"labels": {"verdict": "^INCONCLUSIVE$"}}},
    {"name": "ERROR (the rig or the suite)", "matchers": {"labels": {"verdict": "^ERROR$"}}},
    {"name": "INTERRUPTED (no verdict)", "matchers": {"labels": {"verdict": "^INTERRUPTED$"}}},
    {"name": "NOT RUN (selected, never started)", "matchers": {"labels": {"verdict": f"^{NOT_RUN}$"}}},
]


def write(
    run_dir: Path, record: dict, kind: RunKind, into: Path, environment: dict[str, str], seals: list[dict]
) -> Path:
    """The report's input in `into` (created empty) and its Allure configuration; returns the configuration's
    path. environment: the overview's metadata (name → value); seals: the run's ledger entries so far."""
    into.mkdir(parents=True)
    source = run_dir / "allure-results"
    results, containers = {}, []
    for path in sorted(source.iterdir()) if source.is_dir() else []:
        if path.name.endswith("-result.json"):
            result = json.loads(path.read_text(encoding="utf-8"))
            results[result["uuid"]] = result
        elif path.name.endswith("-container.json"):
            containers.append(json.loads(path.read_text(encoding="utf-8")))
        elif path.is_file() and path.name != "environment.properties":
            _link(path, into / path.name)
    _fold_fixtures(results, containers)
    known = set(record.get("tests") or {}) | set(_selected(record))
    for result in results.values():
        _label_older_result(result, known)
        _mark_information(result.get("steps", []), source)
    tests = record.get("tests") or {}
    shown = {}
    for test_id, found in _by_test(results.values()).items():
        test = tests.get(test_id) or {}
        previous = test.get("previous_attempts") or []
        if test and len(found) <= len(previous):  # all of them earlier attempts: this session never reached it
            final, earlier = _not_run(test_id, test.get("requirements") or [], record), found
        else:
            final, earlier = found[-1], found[:-1]
        if test.get("requirements") and _label(final, "epic") is None:
            _label_from_record(final, test["requirements"], record)  # its setup failed before the fixture labelled it
        word = shown_word(test) if test else _label(final, "verdict") or Verdict.INTERRUPTED
        _title(final, word, test.get("failure_class"))
        final["steps"] = _attempts(previous, earlier) + final.get("steps", [])
        shown[test_id] = final
    passed_through = [r for r in results.values() if _test_id(r) is None]  # e.g. the across-units results
    for test_id, ids in _selected(record).items():
        if test_id not in shown:  # never started, or its harness was killed before Allure kept a result
            shown[test_id] = _not_run(test_id, ids, record)
            _title(shown[test_id], _word(record, test_id), None)
    for result in [*shown.values(), *passed_through]:
        (into / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")
    (into / "environment.properties").write_text(
        "".join(f"{k}={_one_line(v)}\n" for k, v in environment.items()), encoding="utf-8"
    )
    config = into / "allurerc.json"
    config.write_text(
        json.dumps(
            {
                "name": kind.title(record["run_id"]),
                "hideLabels": HIDDEN_LABELS,
                "categories": VERDICT_CATEGORIES,
                "variables": overview(record, kind, seals),
                "globalAttachments": [str((run_dir / AUDIT).resolve() / "*")],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return config


def overview(record: dict, kind: RunKind, seals: list[dict]) -> dict[str, str]:
    """The report's first lines (Allure's "variables"): what the run is, what it selected, what became of it, and
    each session with the seal that closed it (the run's earlier seals: its ledger entries)."""
    selected = _selected(record)
    counts = Counter(_word(record, test_id) for test_id in selected)
    selection = record.get("selection") or {}
    chosen = " ".join(f"{option} {value!r}" for option, value in selection.items() if value)
    lines = {
        "run": kind.words,
        "evidence": kind.evidence.disclaimer or "a device on a bench",
        "verdicts": ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) + f" of {len(selected)}",
        "selection": f"{chosen}: {len(selected)} of {len(record.get('collected') or selected)} tests"
        if chosen
        else f"every test ({len(selected)})",
    }
    if kind.validation:
        lines["tool validation"] = kind.validation
    claims = record.get("claims")
    if claims:  # whose labelling the bounds' claimed figures are
        not_applicable = sorted(rid for rid, r in (record.get("requirements") or {}).items() if r.get("not_applicable"))
        unclaimed = [
            f"{rid} {text.split(':', 1)[0]}"
            for rid, r in sorted((record.get("requirements") or {}).items())
            if not r.get("not_applicable")
            for text in r.get("unclaimed") or []
        ]
        lines["claims"] = (
            f"{claims['device']} ({claims['copy']})"
            + (f"; not applicable to it: {', '.join(not_applicable)}" if not_applicable else "")
            + (f"; bounds not judged, not claimed: {', '.join(unclaimed)}" if unclaimed else "")
        )
    sessions = record.get("sessions") or []
    undrawn = [n for n, session in enumerate(sessions, 1) if session.get("figures") is False]
    if undrawn:  # the raw data are in the run all the same
        lines["figures"] = (
            "none drawn (hil verify --no-figures): measurements, verdicts and raw data as in any run"
            if len(undrawn) == len(sessions)
            else f"not drawn in session(s) {', '.join(map(str, undrawn))} (hil verify --no-figures)"
        )
    for n, session in enumerate(sessions, 1):
        ended = "INTERRUPTED" if session.get("interrupted") else f"exit {session.get('exit_status')}"
        following = sessions[n]["started"] if n < len(sessions) else None
        sealed = [  # the seals between this session's end and the next one's start
            s
            for s in seals
            if session.get("finished")
            and s["sealed_at"] >= session["finished"]
            and (following is None or s["sealed_at"] < following)
        ]
        lines[f"session {n}"] = (  # what matters first: the overview cuts a long value short on screen
            f"ran {len(session.get('ran') or [])} test(s), {ended}, "
            + (
                f"sealed {sealed[0]['kind']} on ledger line {sealed[0]['line']} (manifest sha256 "
                f"{sealed[0]['manifest_sha256']})"
                if sealed
                else ("sealed by this report's seal" if following is None else "never sealed")
            )
            + f"; {session.get('started')} to {session.get('finished')}"
        )
    if record.get("rig_broken"):
        lines["rig"] = f"BROKEN: {record['rig_broken']}"
    return lines


def history_name(record: dict, rig_id: str) -> str:
    """The history file of the runs a report compares this one with: the same rig, the same kind of evidence and
    the same selected tests (a campaign); never another rig's or another selection's runs."""
    campaign = json.dumps([record.get("run_kind", {}).get("evidence"), sorted(_selected(record))])
    return f"{rig_id}.{hashlib.sha256(campaign.encode()).hexdigest()[:12]}"


def _selected(record: dict) -> dict[str, list[str]]:
    """The run's selected tests (node id → requirement ids); a run across places: its units' (`<test> · <place>`)."""
    return record.get("selected") or record.get("unit_selected") or {}


def _word(record: dict, test_id: str) -> str:
    """The verdict word of a selected test, from the record (a run across places: from its units' records)."""
    tests = record.get("tests") or {}
    if test_id in tests or "unit_verdicts" not in record:
        return shown_word(tests.get(test_id))
    return record["unit_verdicts"].get(test_id) or NOT_RUN


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system: a copy
        shutil.copyfile(source, target)


def _test_id(result: dict) -> str | None:
    return _label(result, TEST_LABEL)


def _label(result: dict, name: str) -> str | None:
    return next((label["value"] for label in result.get("labels", []) if label["name"] == name), None)


def _label_older_result(result: dict, known: set[str]) -> None:
    """A result written before results carried their test's node id (a run from an earlier version, its report
    rebuilt): the id from allure-pytest's full name and the requirement parameter, when the record knows it."""
    if _test_id(result) is not None or "#" not in result.get("fullName", ""):
        return
    module, function = result["fullName"].rsplit("#", 1)
    requirement = next((p["value"].strip("'") for p in result.get("parameters", []) if p["name"] == "requirement"), "")
    test_id = f"{module.replace('.', '/')}.py::{function}" + (f"[{requirement}]" if requirement else "")
    if test_id in known:
        result.setdefault("labels", []).append({"name": TEST_LABEL, "value": test_id})


def _by_test(results) -> dict[str, list[dict]]:
    """Each test's results, the earliest first (a resumed run holds an interrupted attempt and its rerun)."""
    grouped: dict[str, list[dict]] = {}
    for result in sorted(results, key=lambda r: r.get("start") or 0):
        test_id = _test_id(result)
        if test_id is not None:
            grouped.setdefault(test_id, []).append(result)
    return grouped


def _fold_fixtures(results: dict[str, dict], containers: list[dict]) -> None:
    """The fixtures' set-up and tear-down (allure-pytest's containers: `rig::1`, `evidence::<lambda>`, ...) are
    the suite's machinery, not steps of the test: their attachments go to the test they served, the rest goes."""
    for container in containers:
        attachments = [
            a
            for fixture in container.get("befores", []) + container.get("afters", [])
            for a in fixture.get("attachments", [])
        ]
        for child in container.get("children", []):
            if child in results and attachments:
                results[child].setdefault("attachments", []).extend(attachments)


def _mark_information(steps: list[dict], source: Path) -> None:
    """A measurement recorded for information (no limits, judged nothing) is shown apart from the judged ones: its
    step grey, not a green tick, and named so. Its outcome is read from the measurement attached to its step."""
    for step in steps:
        for attachment in step.get("attachments", []):
            if attachment.get("type") != "application/json":
                continue
            try:
                measured = json.loads((source / attachment["source"]).read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError):
                continue
            if isinstance(measured, dict) and measured.get("outcome") == Outcome.INFO:
                step["status"] = "skipped"
                step["name"] = f"information only, not judged: {step.get('name', '')}"


def _title(result: dict, verdict: str, failure_class: str | None) -> None:
    cls = f" [{failure_class}]" if failure_class else ""
    result["name"] = f"{verdict}{cls} · {result.get('name', '')}"
    result["labels"] = [label for label in result.get("labels", []) if label["name"] != "verdict"]
    result["labels"].append({"name": "verdict", "value": verdict})
    if verdict in ALLURE_STATUS:
        result["status"] = ALLURE_STATUS[Verdict(verdict)]


def _attempts(previous: list[dict], results: list[dict]) -> list[dict]:
    """A test's earlier attempts (its record's `previous_attempts`: each ended before its verdict), as steps of its
    shown result, each with what its Allure result held. An attempt whose harness was killed left no result: the
    results are then not paired with the attempts, and what they held is shown apart."""
    paired = len(results) == len(previous)
    steps = []
    for n, attempt in enumerate(previous, 1):
        result = results[n - 1] if paired else {}
        steps.append(
            {
                "name": f"earlier attempt {n}: {attempt.get('verdict') or Verdict.INTERRUPTED}: "
                f"{attempt.get('reason') or 'ended before its verdict'} (its evidence kept in tests/"
                f"{attempt.get('folder', '?')})",
                "status": "broken",
                "stage": "finished",
                "start": result.get("start"),
                "stop": result.get("stop"),
                "steps": result.get("steps", []),
                "attachments": result.get("attachments", []),
            }
        )
    if not paired and results:
        steps.append(
            {
                "name": "what the earlier attempts' results held (not paired with them: an attempt left none)",
                "status": "broken",
                "stage": "finished",
                "steps": [s for r in results for s in r.get("steps", [])],
                "attachments": [a for r in results for a in r.get("attachments", [])],
            }
        )
    return steps


def _label_from_record(result: dict, ids: list[str], record: dict) -> None:
    """Area, requirement and title from the record, for a test whose requirement fixture never ran."""
    requirements = record.get("requirements") or {}
    first = requirements.get(ids[0], {}) if ids else {}
    result["name"] = "; ".join(f"{rid}: {requirements.get(rid, {}).get('title', '')}" for rid in ids)
    result.setdefault("labels", []).extend(
        [{"name": "epic", "value": first.get("area", "Not run")}, *({"name": "story", "value": rid} for rid in ids)]
    )


def _not_run(test_id: str, ids: list[str], record: dict) -> dict:
    """The result of a selected test the run holds no result of its own for."""
    word = _word(record, test_id)
    why = "the run was interrupted before it" if record.get("interrupted") else "never started"
    if record.get("rig_broken"):
        why = f"never started: the rig had broken ({record['rig_broken']})"
    if word != NOT_RUN:
        why = "started, but its harness ended before its verdict (no result was kept)"
    result: dict = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(test_id.encode()).hexdigest(),
        "fullName": test_id,
        "statusDetails": {"message": f"{word}: selected, {why}"},
        "stage": "finished",
        "labels": [{"name": TEST_LABEL, "value": test_id}],
    }
    _label_from_record(result, ids, record)
    result["labels"].append({"name": "verdict", "value": NOT_RUN})
    result["status"] = "unknown"
    return result


def _one_line(value: object) -> str:
    return str(value).replace("\n", " ")
