"""The safety campaign end to end, the way a user runs it: `hil validate --in-areas` (the nominal rig and every
seeded-defect rig, with the detection matrix; a defect rig runs the tests of its own areas only, as CI's
validation: docs/validation.md, "In CI"), the traceability gate and the report. The other
rigs' campaigns are in test_rig_kinds.py, and the validation over several seeds in test_validation_seeds.py, so
they run beside this one (pytest-xdist shares the suite out a file at a time)."""

import fcntl
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from hil.rig.config import load_rig
from hil.specs import load_requirements

from .conftest import HIL, ROOT, event_folder, open_report

SCHEMA = jsonschema.Draft202012Validator(json.loads((ROOT / "hil" / "run" / "record.schema.json").read_text()))
DEFECT_RIGS = sorted((ROOT / "fixtures" / "rigs" / "defects").glob("*.yaml"))


SEEDS = 1  # CI's N; test_validation_seeds.py runs two seeds of one defect, docs/validation.md gives N = 20


@pytest.fixture(scope="session")
def validation():
    """`hil validate --in-areas`: the campaign on the nominal rig and on every seeded-defect rig, two at a time.
    Run once per
    test session even across pytest-xdist workers: the first to take the lock runs it, the others read its result.
    Returns the completed process and, per rig, its campaigns."""
    key = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{os.getpid()}"
    result = ROOT / "reports" / f".validation-{key}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT / "reports" / ".validation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            done = subprocess.run([HIL, "--json", "validate", "--jobs", "2", "--in-areas"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=3000)
            result.write_text(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}))
    done = json.loads(result.read_text())
    folder = event_folder(done["stdout"], "validation")  # its console is on stderr
    assert folder, (done["stdout"] + done["stderr"])[-3000:]
    summary = json.loads((folder / "detection-matrix.json").read_text())
    runs: dict[str, list[dict]] = {}
    for run in summary["runs"]:
        runs.setdefault(run["rig"], []).append(run)
    return subprocess.CompletedProcess([], done["code"], done["stdout"], done["stderr"]), runs, summary


def test_every_seeded_defect_is_caught_by_exactly_the_requirements_it_declares(validation):
    done, runs, summary = validation
    assert done.returncode == 0, done.stderr[-4000:]
    assert set(runs) == {"nominal"} | {p.stem for p in DEFECT_RIGS}
    for rig in DEFECT_RIGS:
        defect = load_rig(rig).data["seeded_defect"]
        declared, may = set(defect["violates"]), set(defect.get("may_violate", ()))
        assert len({run["seed"] for run in runs[rig.stem]}) == SEEDS, runs[rig.stem]
        for run in runs[rig.stem]:
            assert declared <= set(run["observed"]) <= declared | may and not run["errors"], run
    assert all(run["observed"] == [] for run in runs["nominal"]) and "nominal clean" in done.stderr
    assert summary["ok"] and all(cell["ok"] for cell in summary["cells"])
    # a defect rig ran every test of the areas of its declared and tolerated requirements, and the scope says so
    assert summary["scope"]["in_areas"] and not summary["scope"]["whole_catalogue"]
    assert "not a validation of the seeded-defect catalogue" in done.stderr
    requirements = load_requirements([ROOT / "specs"])
    every_test = set(json.loads((ROOT / "reports" / "runs" / runs["nominal"][0]["run"] / "record.json").read_text())[
        "selected"])
    for rig in DEFECT_RIGS:
        defect = load_rig(rig).data["seeded_defect"]
        areas = {requirements[rid].area for rid in defect["violates"] + defect.get("may_violate", [])}
        left_out = {node for node in every_test if requirements[node.rsplit("[", 1)[1][:-1]].area not in areas}
        record = json.loads((ROOT / "reports" / "runs" / runs[rig.stem][0]["run"] / "record.json").read_text())
        assert set(record["selected"]) == every_test - left_out, rig.stem
    assert f"false failures of the nominal rig: 0/{SEEDS} campaigns" in done.stderr
    for rig in DEFECT_RIGS:  # no report, no figures: the matrix reads verdicts; the raw data are all there
        run_dir = ROOT / "reports" / "runs" / runs[rig.stem][0]["run"]
        record = json.loads((run_dir / "record.json").read_text())
        assert [session["figures"] for session in record["sessions"]] == [False], rig.stem
        files = [f for test in record["tests"].values() for f in test["files"]]
        assert any(f.endswith(".csv") for f in files) and not any(f.endswith(".png") for f in files), rig.stem
        SCHEMA.validate(record)
        junit = ET.parse(run_dir / "junit.xml").getroot()  # what a CI dashboard shows: the defect, not green
        not_passed = {prop.get("value") for case in junit.iter("testcase")
                      if case.find("failure") is not None or case.find("error") is not None
                      for prop in case.iter("property") if prop.get("name") == "requirement"}
        assert set(load_rig(rig).data["seeded_defect"]["violates"]) <= not_passed, rig.stem


def test_nominal_campaign_passes_every_requirement_with_evidence(validation, tmp_path):
    _, runs, _ = validation
    run_dir = ROOT / "reports" / "runs" / runs["nominal"][0]["run"]
    record = json.loads((run_dir / "record.json").read_text())
    all_ids = set(load_requirements([ROOT / "specs"]))
    assert {rid for t in record["tests"].values() if t["outcome"] == "passed" for rid in t["requirements"]} == all_ids
    report = (run_dir / "report" / "index.html").read_text(errors="replace")
    assert len(report) > 100_000
    for node, test in record["tests"].items():
        suffixes = {f.rsplit(".", 1)[-1] for f in test["files"]}
        assert {"csv", "png"} <= suffixes, f"{node} lacks raw data or plots: {test['files']}"
        assert all(m["outcome"] in ("PASS", "INFO") for m in test["measurements"])
    assert all(action["ok"] for action in record["safety_actions"])
    provenance = record["provenance"]
    assert provenance["spec_files"] and provenance["lock_files"] and provenance["host"]
    assert record["rig"]["identities"]["pump"]["serial"] and record["rig"]["identities"]["lost_scale"]["serial"]
    assert "PROBLEM" not in (run_dir / "traceability.txt").read_text()
    SCHEMA.validate(record)  # the published schema, as a reader of record.json checks it
    junit = ET.parse(run_dir / "junit.xml").getroot()
    selected_and_run = str(len(record["selected"]) + 1)  # and the run's own case: rig sound, every STOP acknowledged
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == (selected_and_run, "0", "0")
    # what the report cites is in the run folder: the requirement files it links to, the sources page they cite
    assert all((run_dir / r["copy"]).is_file() for r in record["requirements"].values())
    sections = set(re.findall(r"^## (.+)$", (run_dir / "docs" / "references.md").read_text(), re.M))
    cited = {name for r in record["requirements"].values()
             for name in re.findall(r'docs/references\.md, "([^"]+)"', r["source"])}
    assert cited and cited <= sections, cited - sections

    checked = subprocess.run([HIL, "evidence", "verify", str(run_dir)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    tampered = tmp_path / "run"
    shutil.copytree(run_dir, tampered)
    csv = next(tampered.glob("tests/*/balance.csv"))
    csv.write_text(csv.read_text().replace("\n", "\n ", 1))
    checked = subprocess.run([HIL, "evidence", "verify", str(tampered)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 1 and csv.name in checked.stderr


def test_a_requirement_without_a_test_fails_trace_and_verify(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    with open(specs / "occlusion.yaml", "a") as spec:
        spec.write("""
  - id: OC-ORPHAN-001
    title: A requirement nobody tests
    statement: "Added by the system test of the traceability gate."
    hazard: none
    source: test
    severity: minor
    method: occlusion-basal
    cases:
      - {basal_rate_U_per_h: 1.0, flow_h: 1, alarm_timeout_h: 4.5, poll_s: 60, hold_after_alarm_min: 1,
         release_window_min: 10, observe_after_release_min: 0, backoff: true}
    acceptance:
      - {metric: time_to_alarm, unit: min, max: 180, origin: judgement, source: test}
""")
    traced = subprocess.run([HIL, "trace", "--specs", str(specs)], cwd=ROOT, capture_output=True, text=True)
    assert traced.returncode == 1 and "requirement OC-ORPHAN-001 has no test" in traced.stderr
    run = subprocess.run([HIL, "verify", "--specs", str(specs), "-k", "IF-PRIO-001", "--no-report", "--no-figures"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "TRACE GATE" in run.stderr and "OC-ORPHAN-001" in run.stderr, run.stderr[-2000:]
    assert "1 passed" in run.stdout


def test_the_report_renders_in_a_browser(validation):
    """The nominal run's report in headless Chromium: what it is (a tool-validation campaign on the emulator, complete)
    in its title, every area and requirement id with its verdict word, a test's page, a plot that decodes, and the
    audit documents (the traceability matrix and the detection matrix) as global attachments, not tests."""
    _, runs, _ = validation
    run_dir = ROOT / "reports" / "runs" / runs["nominal"][0]["run"]
    requirements = load_requirements([ROOT / "specs"])
    areas = sorted({r.area for r in requirements.values()})
    seen = open_report(run_dir, *[a for area in areas for a in ("--expand", area)], "--tab", "Global Attachments",
                       "--test", "^PASS · DA-BASAL-002: Basal accuracy", "--plot", "cumulative delivery")
    assert "COMPLETE · TOOL VALIDATION (seeded defects on the emulator): not evidence of a device" in seen["overview"]
    assert "PARTIAL: ran" in seen["overview"]  # --in-areas: not the catalogue's validation, and it says so
    assert all(f"PASS · {rid}:" in seen["tree"] for rid in requirements), [
        r for r in requirements if f"PASS · {r}:" not in seen["tree"]
    ]
    selected = json.loads((run_dir / "record.json").read_text())["selected"]
    assert "Audit" not in seen["tree"] and f"Total\n{len(selected)}\n" in seen["overview"]
    assert all(name in seen["tab"] for name in ("about-this-run.txt", "traceability-matrix.csv", "detection-matrix.txt",
                                                "decision-rule.txt"))
    assert "verdict\nPASS" in seen["testPage"] and "overall_error" in seen["testPage"]
    assert any(image["width"] > 100 for image in seen["images"])
