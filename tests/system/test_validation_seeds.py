"""`hil validate --seeds`: each campaign of a rig on an emulated world of its own seed, every one kept as evidence,
and the detection matrix counting the seeds. Two seeds of the nominal rig and of one defect (its own file, so that
pytest-xdist runs it beside test_campaigns.py's validation of every defect)."""

import json
import re
import subprocess

from hil.rig.config import load_rig

from .conftest import HIL, ROOT

DEFECT = "occlusion-alarm-medium"  # caught by its priority requirement alone, whatever the seed


def test_each_seed_is_a_different_emulated_world_kept_as_evidence_and_counted():
    done = subprocess.run([HIL, "validate", "--seeds", "2", "--jobs", "2", "--only", DEFECT], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    folder = re.search(r"^validation: (reports/validation/\S+)$", done.stdout, re.M).group(1)
    summary = json.loads((ROOT / folder / "detection-matrix.json").read_text())
    runs: dict[str, list[dict]] = {}
    for run in summary["runs"]:
        runs.setdefault(run["rig"], []).append(run)
    assert set(runs) == {"nominal", DEFECT} and summary["ok"]
    declared = set(load_rig(ROOT / "fixtures" / "rigs" / "defects" / f"{DEFECT}.yaml").data["seeded_defect"]["violates"])
    assert [set(run["observed"]) for run in runs[DEFECT]] == [declared, declared]
    assert "false failures of the nominal rig: 0/2 campaigns" in done.stdout
    first, second = (ROOT / "reports" / "runs" / run["run"] for run in runs["nominal"])
    assert runs["nominal"][1]["seed"] == runs["nominal"][0]["seed"] + 1
    records = [json.loads((run_dir / "record.json").read_text()) for run_dir in (first, second)]
    values = [[m["value"] for t in r["tests"].values() if "DA-BOLUS-001" in t["requirements"] for m in t["measurements"]]
              for r in records]
    assert values[0] and values[0] != values[1]  # the same requirement measured on another world
    assert records[1]["rig"]["effective_config"]["emulator"]["seed"] == runs["nominal"][1]["seed"]
    assert (ROOT / folder / "rigs" / f"nominal.seed-{runs['nominal'][1]['seed']}.yaml").exists()  # kept with the results
    assert (first / "report" / "index.html").exists() and not (second / "report").exists()  # left to `hil report`
    checked = subprocess.run([HIL, "evidence", "verify", str(second)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
