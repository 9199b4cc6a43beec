"""`hil validate --seeds`: each campaign of a rig on an emulated world of its own seed, every one kept as evidence,
and the detection matrix counting the seeds. Two seeds of the nominal rig and of one defect (its own file, so that
pytest-xdist runs it beside test_campaigns.py's validation of every defect), each campaign of the two requirements
-k selects: the defect's own and one every seed measures, except the defect's second, which with --full-seeds 1
runs its declared requirement's test alone (the whole campaign on every rig is test_campaigns.py's; over 20 seeds,
docs/validation.md's `hil validate --seeds 20`)."""

import json
import subprocess
from pathlib import Path

from hil.evidence.seal import ledger
from hil.rig.config import load_rig

from .conftest import HIL, ROOT, event_folder, open_report

DEFECT = "occlusion-alarm-medium"  # caught by its priority requirement alone, whatever the seed
SELECTED = "DA-BOLUS-001 or OC-PRIO-001"  # a measurement that differs by seed; the one requirement of DEFECT's chosen


def _renamed(rig: Path, folder: Path, rig_id: str) -> Path:
    """The rig under a rig id of its own: its campaigns' report history is not the one test_campaigns.py's
    validation writes at the same time (reports/history/<rig id>.jsonl)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / rig.name
    path.write_text(f"extends: {json.dumps(str(rig))}\nrig_id: {rig_id}\n", encoding="utf-8")
    return path


def test_each_seed_is_a_different_emulated_world_kept_as_evidence_and_counted(tmp_path):
    rigs = ROOT / "fixtures" / "rigs"
    nominal = _renamed(rigs / "emulator.yaml", tmp_path, "emulator-seeds")
    _renamed(rigs / "defects" / f"{DEFECT}.yaml", tmp_path / "defects", f"{DEFECT}-seeds")
    done = subprocess.run([HIL, "--json", "validate", "--seeds", "2", "--full-seeds", "1", "--jobs", "2", "--only", DEFECT,
                           "--nominal", str(nominal),
                           "--defects", str(tmp_path / "defects"), "-k", SELECTED], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    folder = event_folder(done.stdout, "validation")  # its console is on stderr
    summary = json.loads((folder / "detection-matrix.json").read_text())
    runs: dict[str, list[dict]] = {}
    for run in summary["runs"]:
        runs.setdefault(run["rig"], []).append(run)
    assert set(runs) == {"nominal", DEFECT} and summary["ok"]
    declared = set(load_rig(rigs / "defects" / f"{DEFECT}.yaml").data["seeded_defect"]["violates"])
    assert declared > {"OC-PRIO-001"} and "judging 2 requirement(s)" in done.stderr
    assert [run["expected"] for run in runs[DEFECT]] == [["OC-PRIO-001"]] * 2  # of its declared, those that ran
    assert [set(run["observed"]) for run in runs[DEFECT]] == [{"OC-PRIO-001"}] * 2
    assert [run["judged"] for run in runs[DEFECT]] == [["DA-BOLUS-001", "OC-PRIO-001"], ["OC-PRIO-001"]]
    assert [run["judged"] for run in runs["nominal"]] == [["DA-BOLUS-001", "OC-PRIO-001"]] * 2
    assert "extra failures (a requirement a defect does not declare, not passed) checked on each defect rig's first " \
           "1 seed(s)" in done.stderr
    assert "false failures of the nominal rig: 0/2 campaigns" in done.stderr
    first, second = (ROOT / "reports" / "runs" / run["run"] for run in runs["nominal"])
    assert runs["nominal"][1]["seed"] == runs["nominal"][0]["seed"] + 1
    records = [json.loads((run_dir / "record.json").read_text()) for run_dir in (first, second)]
    values = [[m["value"] for t in r["tests"].values() if "DA-BOLUS-001" in t["requirements"] for m in t["measurements"]]
              for r in records]
    assert values[0] and values[0] != values[1]  # the same requirement measured on another world
    assert records[1]["rig"]["effective_config"]["emulator"]["seed"] == runs["nominal"][1]["seed"]
    assert (folder / "rigs" / f"nominal.seed-{runs['nominal'][1]['seed']}.yaml").exists()  # kept with the results
    assert (first / "report" / "index.html").exists() and not (second / "report").exists()  # left to `hil report`
    assert not any((ROOT / "reports" / "runs" / run["run"] / "report").exists() for run in runs[DEFECT])
    assert {t["requirements"][0] for t in records[0]["tests"].values()} == {"DA-BOLUS-001", "OC-PRIO-001"}
    checked = subprocess.run([HIL, "evidence", "verify", str(second)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    _a_partial_validation_says_its_scope(done.stderr, summary, first, [run["run"] for rig in runs.values() for run in rig])


def _a_partial_validation_says_its_scope(console: str, summary: dict, nominal: Path, run_ids: list[str]) -> None:
    """-k made it partial: the console, the matrix, the nominal run's record and report say so, and never claim
    the catalogue; every campaign is sealed as tool validation, apart from device evidence."""
    assert "every seeded defect" not in console
    assert f"validation: PARTIAL (1 of 1 seeded-defect rigs and the nominal rig, 2 seed(s) each, the tests -k " \
           f"{SELECTED!r} selects (a defect rig: on its first 1, on the others only the tests of the requirements it " \
           "declares))" in console
    scope = summary["scope"]
    assert scope["whole_catalogue"] is False and scope["seeds"] == 2 and scope["k"] == SELECTED
    assert scope["every_test_seeds"] == 1
    assert json.loads((nominal / "record.json").read_text())["tool_validation"]["scope"] == scope
    entries = [json.loads(line) for line in ledger.default_path(ROOT / "reports").read_text().splitlines()]
    assert {e["evidence"] for e in entries if e["run_id"] in run_ids} == {"tool validation"}
    seen = open_report(nominal, "--tab", "Global Attachments")
    assert "COMPLETE · TOOL VALIDATION (seeded defects on the emulator): not evidence of a device" in seen["overview"]
    assert "tool validation\nPARTIAL: ran 1 of 1 seeded-defect rigs" in seen["overview"] and "the tests -k" in seen["overview"]
    assert "detection-matrix.txt" in seen["tab"] and "traceability-matrix.csv" in seen["tab"]
