"""The safety campaign end to end, the way a user runs it: `hil validate` (the nominal rig and every seeded-defect
rig, with the detection matrix), the traceability gate and the report. The other rigs' campaigns are in
test_rig_kinds.py, and the validation over several seeds in test_validation_seeds.py, so they run beside this one
(pytest-xdist shares the suite out a file at a time)."""

import fcntl
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from hil.rig.config import load_rig
from hil.specs import load_requirements

from .conftest import HIL, ROOT

DEFECT_RIGS = sorted((ROOT / "fixtures" / "rigs" / "defects").glob("*.yaml"))


SEEDS = 1  # CI's N; test_validation_seeds.py runs two seeds of one defect, docs/validation.md gives N = 20


@pytest.fixture(scope="session")
def validation():
    """`hil validate`: the campaign on the nominal rig and on every seeded-defect rig, two at a time. Run once per
    test session even across pytest-xdist workers: the first to take the lock runs it, the others read its result.
    Returns the completed process and, per rig, its campaigns."""
    key = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{os.getpid()}"
    result = ROOT / "reports" / f".validation-{key}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT / "reports" / ".validation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            done = subprocess.run([HIL, "validate", "--jobs", "2"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=3000)
            result.write_text(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}))
    done = json.loads(result.read_text())
    match = re.search(r"^validation: (reports/validation/\S+)$", done["stdout"], re.M)
    assert match, (done["stdout"] + done["stderr"])[-3000:]
    summary = json.loads((ROOT / match.group(1) / "detection-matrix.json").read_text())
    runs: dict[str, list[dict]] = {}
    for run in summary["runs"]:
        runs.setdefault(run["rig"], []).append(run)
    return subprocess.CompletedProcess([], done["code"], done["stdout"], done["stderr"]), runs, summary


def test_every_seeded_defect_is_caught_by_exactly_the_requirements_it_declares(validation):
    done, runs, summary = validation
    assert done.returncode == 0, done.stdout[-4000:]
    assert set(runs) == {"nominal"} | {p.stem for p in DEFECT_RIGS}
    for rig in DEFECT_RIGS:
        defect = load_rig(rig).data["seeded_defect"]
        declared, may = set(defect["violates"]), set(defect.get("may_violate", ()))
        assert len({run["seed"] for run in runs[rig.stem]}) == SEEDS, runs[rig.stem]
        for run in runs[rig.stem]:
            assert declared <= set(run["observed"]) <= declared | may and not run["errors"], run
    assert all(run["observed"] == [] for run in runs["nominal"]) and "nominal clean" in done.stdout
    assert summary["ok"] and all(cell["ok"] for cell in summary["cells"])
    assert f"false failures of the nominal rig: 0/{SEEDS} campaigns" in done.stdout


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
      - {metric: time_to_alarm, unit: min, max: 180, source: test}
""")
    traced = subprocess.run([HIL, "trace", "--specs", str(specs)], cwd=ROOT, capture_output=True, text=True)
    assert traced.returncode == 1 and "requirement OC-ORPHAN-001 has no test" in traced.stderr
    run = subprocess.run([HIL, "verify", "--specs", str(specs), "-k", "IF-PRIO-001"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 1 and "TRACE GATE" in run.stderr and "OC-ORPHAN-001" in run.stderr, run.stderr[-2000:]
    assert "1 passed" in run.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_the_report_renders_in_a_browser(validation):
    """The nominal run's report in headless Chromium: every area and requirement id, a test's verdict, a plot
    that decodes, and the audit pages. The screenshots are kept in reports/screenshots/ as artefacts."""
    _, runs, _ = validation
    run_dir = ROOT / "reports" / "runs" / runs["nominal"][0]["run"]
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    screenshot = shots / f"{run_dir.name}.png"
    requirements = load_requirements([ROOT / "specs"])
    areas = sorted({r.area for r in requirements.values()})
    handler = functools.partial(_QuietHandler, directory=str(run_dir / "report"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:  # the single file needs http:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        done = subprocess.run(["node", str(ROOT / "tests" / "system" / "report_in_browser.js"), url, str(screenshot),
                               *areas, "--", "DA-BASAL-002: Basal accuracy", "cumulative delivery"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        server.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in seen, seen.get("error")
    assert all(rid in seen["text"] for rid in requirements), [r for r in requirements if r not in seen["text"]]
    assert "Audit" in seen["text"] and "Passed" in seen["testPage"]
    assert "overall_error" in seen["testPage"] and any(image["width"] > 100 for image in seen["images"])
    assert screenshot.stat().st_size > 20_000
