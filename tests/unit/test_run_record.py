"""The run record's published schema and what reads it: the shipped schema is the models', a record as the recorder
writes it is valid against it, `problems` names a wrong key, and junit.xml says of every selected test what its
verdict says (only PASS passes)."""

import importlib
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from pydantic import ValidationError

from hil.evidence.measurements import measurement
from hil.evidence.run import RunRecorder, write_record
from hil.evidence.verdict import FailureClass, Judgement, Verdict
from hil.rig.config import load_rig
from hil.run import junit, outputs
from hil.run import record as run_record
from hil.specs import load_requirements
from hil.specs.claims import load_claims

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "hil" / "run" / "record.schema.json"
IDS = ["DA-BASAL-001", "DA-BASAL-002", "DA-BOLUS-001", "DA-BOLUS-002", "DA-BOLUS-003", "DA-BOLUS-004", "OC-PRIO-001"]
NODES = [f"tests/safety/test_x.py::test_case[{rid}]" for rid in IDS]


@dataclass
class _Report:
    """What RunRecorder.add_phase reads of a pytest report."""

    when: str
    outcome: str
    duration: float = 0.5
    longreprtext: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@dataclass
class _Evidence:
    measurements: list

    def as_record(self) -> dict:
        return {"measurements": [m.as_dict() for m in self.measurements], "files": []}


def _recorded(tmp_path: Path) -> Path:
    """A run as the recorder writes it: every verdict, a test cut short, one never started, a safety action."""
    requirements = load_requirements([ROOT / "specs"])
    recorder = RunRecorder(tmp_path / "run", requirements, claims=load_claims(ROOT / "claims" / "reference-pump.yaml"))
    recorder.set_rig(load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml"))
    recorder.set_identities({"pump": {"model": "RP-1", "serial": "EMU-0001"}}, {})
    recorder.set_selected(
        {n: [rid] for n, rid in zip(NODES, IDS, strict=True)},
        {n: [r] for n, r in zip(NODES, IDS, strict=True)},
        {"-k": "DA", "-m": None},
    )
    verdicts = [
        (Verdict.PASS, None, "every bound met (1)"),
        (Verdict.FAIL, FailureClass.PRODUCT, "1 of 1 measurements not passed"),
        (Verdict.INCONCLUSIVE, FailureClass.RIG, "straddles its bound"),
        (Verdict.ERROR, FailureClass.RIG, "balance silent"),
        (Verdict.SKIPPED, None, "the pump lacks the capability"),
    ]
    for node, rid, (verdict, failure, reason) in zip(NODES, IDS, verdicts, strict=False):
        recorder.add_phase(node, [rid], _Report("setup", "passed"))
        recorder.add_phase(node, [rid], _Report("call", "failed" if failure else "passed", longreprtext="E  boom"))
        recorder.add_evidence(
            node,
            [rid],
            _Evidence([measurement("error", float("nan") if failure else 1.0, "%", high=5.0, source="claim")]),
        )
        recorder.set_judgement(node, [rid], Judgement(verdict, failure, reason))
    recorder.add_phase(NODES[5], [IDS[5]], _Report("setup", "passed"))  # cut short: phases, no verdict
    recorder.add_safety(
        type("Action", (), {"reason": "end of test", "ok": True, "detail": "STOP acknowledged"})(), NODES[0]
    )
    recorder.finish(130, None, {"signal": "SIGINT", "test": NODES[5]})
    return tmp_path / "run"


def test_the_shipped_schema_is_the_models():
    assert json.loads(SHIPPED.read_text()) == run_record.json_schema(), (
        "regenerate: python -m hil.run.record > hil/run/record.schema.json"
    )


def test_a_record_as_the_recorder_writes_it_is_valid_against_the_published_schema(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["record_schema"] == run_record.SCHEMA_VERSION
    jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text())).validate(record)
    assert run_record.check(run_dir) == run_record.Check([])


def test_a_wrong_key_or_type_is_named_as_the_published_schema_says_and_an_older_record_is_not_checked(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    record["tests"][NODES[0]]["verdict"] = "PASSED"
    record["safety_actions"][0]["extra"] = 1
    record["exit_status"] = "130"  # a string is no number, as any reader of the schema checks it
    write_record(run_dir, record)
    found = run_record.check(run_dir).problems
    said = "\n".join(found)
    assert f"record.json: tests.{NODES[0]}.verdict: 'PASSED' is not of type 'null' or 'PASSED' is not one of" in said
    assert "record.json: safety_actions.0: Additional properties are not allowed ('extra' was unexpected)" in said
    assert "record.json: exit_status: '130' is not of type 'integer' or '130' is not of type 'null'" in said
    write_record(run_dir, {**record, "record_schema": 2})
    older = run_record.check(run_dir)
    assert (
        older == run_record.Check([], 2) and "record_schema 2, older than the published 3: not checked" in older.said()
    )
    (run_dir / "record.json").write_text("{not json")
    assert run_record.check(run_dir).problems[0].startswith("record.json: unreadable")


def _cases(root: ET.Element) -> dict[str, tuple[str | None, str | None]]:
    """Each testcase's name → its element and type (None, None: passed)."""
    shown = {}
    for case in root.iter("testcase"):
        element = next((e for e in case if e.tag in ("failure", "error", "skipped")), None)
        shown[case.get("name")] = (element.tag, element.get("type")) if element is not None else (None, None)
    return shown


def _junit(run_dir: Path, record: dict | None = None) -> ET.Element:
    record = record or json.loads((run_dir / "record.json").read_text())
    return ET.parse(junit.write_junit(run_dir, run_record.RECORD.validate_python(record))).getroot()


def test_junit_says_of_each_selected_test_what_its_verdict_says(tmp_path):
    run_dir = _recorded(tmp_path)
    root = _junit(run_dir)
    assert [_cases(root)[f"test_case[{rid}]"] for rid in IDS] == [
        (None, None),
        ("failure", "FAIL"),
        ("failure", "INCONCLUSIVE"),
        ("error", "ERROR"),
        ("skipped", "SKIPPED"),  # the pump lacks what the test needs: not the rig's fault
        ("error", "INTERRUPTED"),  # started, no verdict
        ("error", "NOT RUN"),  # never started: an interrupted run does not read as green
    ]
    assert _cases(root)[junit.RUN_CASE] == ("error", "ERROR")  # interrupted by SIGINT
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("8", "2", "4", "1")
    passed = next(c for c in root.iter("testcase") if c.get("name") == "test_case[DA-BASAL-001]")
    assert {p.get("name"): p.get("value") for p in passed.iter("property")}.items() >= {
        "requirement": "DA-BASAL-001",
        "verdict": "PASS",
        "measurement error": "PASS: 1 ≤ 5 %",
    }.items()
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}
    assert (suite["run_kind"], suite["evidence"]) == ("INTERRUPTED", "emulated rig")  # no run_kind yet: from the record
    assert root.find("testsuite").get("name").endswith("· INTERRUPTED · EMULATED RIG: not evidence of a device")
    assert "+" not in root.find("testsuite").get("timestamp")  # UTC without an offset, as JUnit's XSD has it


def test_a_broken_rig_an_unacknowledged_stop_or_a_skip_for_it_is_never_green(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    record["tests"][NODES[4]]["failure_class"] = "rig"  # skipped because the rig had broken
    record["rig_broken"] = "pump did not acknowledge STOP"
    record["safety_actions"][0].update(ok=False, detail="no acknowledgement in 2 s")
    cases = _cases(_junit(run_dir, record))
    assert cases["test_case[DA-BOLUS-003]"] == ("error", "SKIPPED") and cases[junit.RUN_CASE] == ("error", "ERROR")
    message = next(c for c in _junit(run_dir, record).iter("testcase") if c.get("name") == junit.RUN_CASE)
    assert "STOP not acknowledged (end of test): no acknowledgement in 2 s" in message.find("error").get("message")


def test_characters_xml_cannot_carry_are_replaced_and_the_file_parses(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    record["tests"][NODES[1]]["reason"] = "reply b'\x00\x1b\x07' from the pump"
    record["tests"][NODES[1]]["phases"]["call"]["message"] = "E  \x00 in a traceback"
    failure = next(c for c in _junit(run_dir, record).iter("testcase") if c.get("name") == "test_case[DA-BASAL-002]")
    assert failure.find("failure").get("message") == "FAIL: reply b'\ufffd\ufffd\ufffd' from the pump"
    assert failure.find("failure").text == "E  \ufffd in a traceback"


def _places(run_dir: Path) -> dict:
    """A run across two places: bench-a ran two of its three tests, bench-b was held and ran nothing (no record: its
    tests are in no table, as hil.evidence.units.places_record writes it)."""
    unit = json.loads((run_dir / "record.json").read_text())
    selected = {f"{node} · bench-a": ids for node, ids in list(unit["selected"].items())[:3]}
    verdicts = {f"{NODES[0]} · bench-a": "PASS", f"{NODES[1]} · bench-a": "PASS"}
    return {
        "record_schema": 3,
        "run_id": "places-run",
        "kind": "places",
        "split": False,
        "started": unit["started"],
        "finished": unit["finished"],
        "provenance": unit["provenance"],
        "rig": {"id": "lab", "file": "lab.yaml", "sha256": "0" * 64, "clock": "sim"},
        "units": {
            place: {
                "folder": f"units/{place}",
                "rig_file": f"rigs/{place}.yaml",
                "exit_status": code,
                "pump": None,
                "labgrid": None,
                "tests": n,
                "rig_sound": True if n else None,
            }
            for place, code, n in (("bench-a", 0, 2), ("bench-b", 1, 0))
        },
        "across_units": [],
        "unit_selected": selected,
        "unit_verdicts": verdicts,
        "unit_endings": {"bench-a": "complete"},
        "tests": {},
        "safety_actions": [],
        "exit_status": 1,
        "interrupted": None,
    }


def test_a_run_across_places_lists_every_selected_test_of_every_unit_and_how_each_unit_ended(tmp_path):
    run_dir = _recorded(tmp_path)
    places = _places(run_dir)
    jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text())).validate(places)
    cases = _cases(_junit(run_dir, places))
    assert cases == {
        "test_case[DA-BASAL-001] · bench-a": (None, None),
        "test_case[DA-BASAL-002] · bench-a": (None, None),
        "test_case[DA-BOLUS-001] · bench-a": ("error", "NOT RUN"),
        "bench-a": (None, None),
        "bench-b": ("error", "ERROR"),  # its place was held: nothing ran there
    }
    places["units"]["bench-a"]["rig_sound"] = False  # a STOP unacknowledged at its end: the unit still exits 0
    assert _cases(_junit(run_dir, places))["bench-a"] == ("error", "ERROR")
    with pytest.raises(ValidationError):  # a word junit does not know is refused before it could read as passed
        run_record.RECORD.validate_python({**places, "unit_verdicts": {f"{NODES[0]} · bench-a": "PASSED"}})


class _Entry:
    """An entry point as importlib.metadata gives it: hil's own (package "hil") or another package's."""

    def __init__(self, value: str, package: str = "acme-lab"):
        self.value, self.dist = value, SimpleNamespace(name=package)

    def load(self):
        module, _, attribute = self.value.partition(":")
        return getattr(importlib.import_module(module), attribute)


def test_a_labs_outputs_run_apart_named_when_they_fail_or_hang_and_hils_own_still_writes(tmp_path, monkeypatch):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    monkeypatch.setattr(outputs, "OUTPUT_TIMEOUT_S", 15.0)  # a child's start-up takes seconds on a loaded machine
    monkeypatch.setattr(
        outputs,
        "installed",
        lambda: {
            "a-broken": [_Entry("tests.unit.output_examples:broken")],
            "b-hung": [_Entry("tests.unit.output_examples:hung")],
            "c-chatty": [_Entry("tests.unit.output_examples:chatty")],
            "junit": [_Entry("hil.run.junit:write_junit", "hil")],
        },
    )
    done = outputs.write_all(run_dir, record)
    assert [(w.name, w.error, w.changed) for w in done] == [
        ("a-broken", "SystemExit: database unreachable", ()),
        ("b-hung", "did not finish within 15 s (stopped)", ()),
        ("c-chatty", None, ()),  # what it printed is not taken for its answer
        ("junit", None, ()),
    ]
    assert done[2].path == run_dir / "summary.txt" and done[3].path == run_dir / "junit.xml"
    hung = int((tmp_path / "hung.pid").read_text())  # stopped, not left to write into a folder being sealed
    assert not Path(f"/proc/{hung}").exists() or Path(f"/proc/{hung}/stat").read_text().split(") ")[1][0] == "Z"


def test_an_output_that_changes_what_the_run_holds_is_named_a_name_registered_twice_refused(tmp_path, monkeypatch):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    monkeypatch.setattr(
        outputs,
        "installed",
        lambda: {
            "editor": [_Entry("tests.unit.output_examples:editor")],
            "twice": [_Entry("tests.unit.output_examples:chatty"), _Entry("tests.unit.output_examples:broken")],
        },
    )
    editing, twice = outputs.write_all(run_dir, record)
    assert editing.changed == ("record.json changed",) and editing.error is None
    assert "registered twice" in twice.error and not twice.changed and not (run_dir / "summary.txt").exists()


def test_an_output_writes_its_own_file_anew_when_the_run_is_sealed_again(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    first = {w.name: w for w in outputs.write_all(run_dir, record)}["junit"]
    (run_dir / "junit.xml").write_text("stale")
    again = {w.name: w for w in outputs.write_all(run_dir, record)}["junit"]  # hil report, hil validate's matrix
    assert first.changed == again.changed == () and (run_dir / "junit.xml").read_text() != "stale"


def test_outputs_are_not_written_for_a_record_the_schema_refuses_or_of_an_older_version(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    write_record(run_dir, {**record, "record_schema": 2})
    (said,) = outputs.write_all(run_dir, {**record, "record_schema": 2})
    assert said.name == "outputs" and "record_schema 2, older than the published 3" in said.error
    assert not (run_dir / "junit.xml").exists()


def test_junit_is_a_registered_output():
    assert [e.value for e in outputs.installed()["junit"]] == ["hil.run.junit:write_junit"]


@pytest.mark.parametrize("version", [True, "3", 4])
def test_only_an_older_integer_version_goes_unchecked(version):
    assert run_record.older_version({"record_schema": version}) is None
