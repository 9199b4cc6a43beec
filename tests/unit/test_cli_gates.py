"""`hil` refusing what it cannot do: an unknown trace format; a verify session that ran no test."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HIL = str(Path(sys.executable).parent / "hil")


def _hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HIL, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_an_unknown_trace_format_is_a_one_line_usage_error():
    done = _hil("trace", "--format", "bogus")
    assert done.returncode == 2
    assert done.stderr.strip() == "hil trace: --format must be one of table, csv, json, not 'bogus'"


def test_a_verify_that_runs_no_test_seals_nothing_and_leaves_latest_alone():
    latest = ROOT / "reports" / "latest"
    done = _hil("verify", "-k", "NO-SUCH-REQUIREMENT")
    assert done.returncode == 5, done.stdout[-2000:] + done.stderr[-2000:]
    run_id = done.stdout.split(":", 1)[0].removeprefix("run ")
    assert "hil: no test ran (no test selected: no requirement NO-SUCH-REQUIREMENT): nothing sealed" in done.stderr
    assert not (ROOT / "reports" / "runs" / run_id).exists()
    # Other runs of this test session may move reports/latest meanwhile; never to this empty run.
    assert not latest.exists() or latest.resolve().name != run_id


def test_a_signing_key_that_cannot_sign_stops_verify_before_the_run(tmp_path):
    done = subprocess.run([HIL, "verify", "-k", "DA-BOLUS-001"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HIL_SIGNING_KEY": str(tmp_path / "missing.key")})
    assert done.returncode == 1 and "run " not in done.stdout
    assert done.stderr.strip().startswith("HIL_SIGNING_KEY: ") and "missing.key" in done.stderr


def test_places_on_a_rig_without_a_place_or_split_alone_are_one_line_each():
    no_place = _hil("verify", "--places", "bench-a,bench-b", "-k", "DA-BOLUS-002")
    assert no_place.returncode == 1 and "run " not in no_place.stdout
    assert no_place.stderr == ("hil: --places runs a rig on labgrid places; fixtures/rigs/emulator.yaml has no "
                               "labgrid: section (docs/lab.md)\n")
    twice = _hil("verify", "--rig", "fixtures/rigs/lab-emulator.yaml", "--places", "bench-a,bench-a")
    assert twice.returncode == 1 and twice.stderr.endswith("bench-a named twice (a place is one pump unit)\n")
    split = _hil("verify", "--split", "-k", "DA-BOLUS-002")
    assert split.returncode == 1 and split.stderr == "hil: --split spreads the selected tests over --places; no --places given\n"


def test_split_with_no_test_selected_runs_nothing():
    done = _hil("verify", "--rig", "fixtures/rigs/lab-emulator.yaml", "--places", "bench-a,bench-b", "--split",
                "-k", "NO-SUCH-REQUIREMENT")
    assert done.returncode == 5, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr == ("hil: no test selected by -k 'NO-SUCH-REQUIREMENT': nothing to run on bench-a,bench-b\n")
    assert "run " not in done.stdout  # no unit started, its folder removed


def test_a_validation_selecting_no_test_runs_no_campaign():
    validations = set((ROOT / "reports" / "validation").glob("*"))
    done = _hil("validate", "-k", "NO-SUCH-REQUIREMENT")
    assert done.returncode == 5, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr == "hil: no test selected by -k 'NO-SUCH-REQUIREMENT': no requirement NO-SUCH-REQUIREMENT: no campaign run\n"
    assert "validate: " not in done.stdout and set((ROOT / "reports" / "validation").glob("*")) == validations


def test_a_misspelt_requirement_id_or_defect_rig_gets_the_names_it_resembles():
    done = _hil("verify", "-k", "DA-BOLSU-002")
    assert done.returncode == 5 and "no requirement DA-BOLSU-002; did you mean DA-BOLUS-002" in done.stderr, done.stderr
    done = _hil("validate", "--only", "occlusion-alarm-meduim")
    assert done.returncode == 2 and "occlusion-alarm-meduim (did you mean occlusion-alarm-medium?)" in done.stderr


def test_help_shows_flags_without_a_value_placeholder():
    for command in ([], ["verify"], ["validate"]):
        shown = _hil(*command, "--help").stdout
        assert "--help  " in shown and "<bool>" not in shown, shown
