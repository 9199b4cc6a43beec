"""The run record's published schema and what reads it: the shipped schema is the models', a record as the recorder
writes it is valid against it, `problems` names a wrong key, and junit.xml says of every selected test what its
verdict says (only PASS passes)."""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

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
    assert run_record.problems(run_dir) == []


def test_a_wrong_key_is_named_and_an_older_record_is_not_checked(tmp_path):
    run_dir = _recorded(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    record["tests"][NODES[0]]["verdict"] = "PASSED"
    record["safety_actions"][0]["extra"] = 1
    write_record(run_dir, record)
    found = run_record.problems(run_dir)
    assert any(f"tests.{NODES[0]}.verdict: Input should be 'PASS'" in p for p in found), found
    assert any("safety_actions.0.extra: Extra inputs are not permitted" in p for p in found), found
    validator = jsonschema.Draft202012Validator(json.loads(SHIPPED.read_text()))
    assert not validator.is_valid(record)  # the published file refuses it too
    write_record(run_dir, {**record, "record_schema": 2})
    assert run_record.problems(run_dir) == [] and run_record.older_version({"record_schema": 2}) == 2


def test_junit_says_of_each_selected_test_what_its_verdict_says(tmp_path):
    run_dir = _recorded(tmp_path)
    typed = run_record.RECORD.validate_python(json.loads((run_dir / "record.json").read_text()))
    path = junit.write_junit(run_dir, typed)
    root = ET.parse(path).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert len(cases) == len(NODES)

    def shown(rid: str) -> tuple[str | None, str | None]:
        case = cases[f"test_case[{rid}]"]
        element = next((e for e in case if e.tag in ("failure", "error", "skipped")), None)
        return (element.tag, element.get("type")) if element is not None else (None, None)

    assert [shown(rid) for rid in IDS] == [
        (None, None),
        ("failure", "FAIL"),
        ("failure", "INCONCLUSIVE"),
        ("error", "ERROR"),
        ("skipped", "SKIPPED"),
        ("error", "INTERRUPTED"),  # started, no verdict
        ("error", "NOT RUN"),  # never started: an interrupted run does not read as green
    ]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("7", "2", "3", "1")
    passed = cases["test_case[DA-BASAL-001]"]
    assert {p.get("name"): p.get("value") for p in passed.iter("property")}.items() >= {
        "requirement": "DA-BASAL-001",
        "verdict": "PASS",
        "measurement error": "PASS: 1 ≤ 5 %",
    }.items()
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}
    assert (suite["run_kind"], suite["evidence"]) == ("INTERRUPTED", "emulated rig")  # no run_kind yet: from the record
    assert root.find("testsuite").get("name").endswith("· INTERRUPTED · EMULATED RIG: not evidence of a device")


def test_an_output_that_fails_is_named_and_the_others_still_write(tmp_path, monkeypatch):
    run_dir = _recorded(tmp_path)
    typed = run_record.RECORD.validate_python(json.loads((run_dir / "record.json").read_text()))

    class Entry:
        def __init__(self, target):
            self.target = target

        def load(self):
            return self.target

    def broken(run_dir, record):
        raise OSError("database unreachable")

    monkeypatch.setattr(outputs, "installed", lambda: {"a-broken": Entry(broken), "junit": Entry(junit.write_junit)})
    done = outputs.write_all(run_dir, typed)
    assert [(w.name, w.error) for w in done] == [("a-broken", "OSError: database unreachable"), ("junit", None)]
    assert done[1].path == run_dir / "junit.xml" and done[1].path.is_file()


def test_junit_is_a_registered_output():
    assert outputs.installed()["junit"].value == "hil.run.junit:write_junit"


@pytest.mark.parametrize("version", [True, "3", 4])
def test_only_an_older_integer_version_goes_unchecked(version):
    assert run_record.older_version({"record_schema": version}) is None
