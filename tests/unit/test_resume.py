"""What a resumed run keeps and runs again, and when it is refused (hil.evidence.resume), on hand-made records."""

import json

import pytest

from hil.evidence import resume, run_kind
from hil.evidence.per_test import safe_name
from hil.evidence.run import RunRecorder, finish_abandoned, finished, sha256_file
from hil.rig.config import load_rig

RIG = load_rig("fixtures/rigs/emulator.yaml")
IDS = {"pump": {"model": "RP-1", "serial": "EMU-0001"}, "scale": {"serial": "B1"}, "lost_scale": {"serial": "B2"},
       "emulator": {"pid": 1}}


def test_only_tests_that_reached_a_verdict_are_kept():
    assert all(finished({"verdict": v}) for v in ("PASS", "FAIL", "INCONCLUSIVE", "ERROR"))
    assert finished({"verdict": "SKIPPED", "failure_class": None})  # skipped by its own reason: as it was
    assert not finished({"verdict": "SKIPPED", "failure_class": "rig"})  # the rig had broken: run it again
    assert not finished({"verdict": "INTERRUPTED"}) and not finished({"verdict": None}) and not finished({})


def test_the_tests_left_are_the_unfinished_selected_in_order(tmp_path):
    record = {"finished": "t", "interrupted": {"signal": "SIGINT"}, "selected": {"a": [], "b": [], "c": []},
              "tests": {"a": {"verdict": "PASS", "files_sha256": {}}, "b": {"verdict": "INTERRUPTED"}}}
    assert resume.remaining(record, tmp_path, tmp_path / "ledger.jsonl") == ["b", "c"]
    with pytest.raises(resume.ResumeRefused, match="ended complete"):
        resume.remaining({**record, "interrupted": None}, tmp_path, tmp_path / "ledger.jsonl")


def test_a_finished_tests_changed_file_refuses_an_unsealed_run(tmp_path):
    (tmp_path / "raw.csv").write_text("t_s\n1\n")
    record = {"finished": None, "selected": {"a": []},
              "tests": {"a": {"verdict": "PASS", "files_sha256": {"raw.csv": "0" * 64}}}}
    with pytest.raises(resume.ResumeRefused, match="raw.csv is not what the record hashed"):
        resume.remaining(record, tmp_path, tmp_path / "ledger.jsonl")


DRIVERS = {"pump": {"driver": "acme-rp1-service", "class": "acme_hil.pump:AcmeServicePump",
                   "package": "acme-hil-drivers", "version": "1.0.0"}}


def test_another_instrument_rig_file_or_driver_refuses_the_resume():
    record = {"rig": {"sha256": RIG.sha256, "file": "fixtures/rigs/emulator.yaml", "identities": IDS,
                      "drivers": DRIVERS}}
    resume.same_rig(record, RIG, {**IDS, "emulator": {"pid": 2}}, DRIVERS)  # the emulator's process may differ
    with pytest.raises(resume.ResumeRefused, match="the pump is not the one the run started with"):
        resume.same_rig(record, RIG, {**IDS, "pump": {"model": "RP-1", "serial": "EMU-0002"}}, DRIVERS)
    with pytest.raises(resume.ResumeRefused, match="effective configuration differs"):
        resume.same_rig({"rig": {**record["rig"], "sha256": "x"}}, RIG, IDS, DRIVERS)
    upgraded = {"pump": {**DRIVERS["pump"], "version": "1.1.0"}}
    changed = r"the drivers are not those the run started with: pump: .*1\.0\.0.* then, .*1\.1\.0.* now"
    with pytest.raises(resume.ResumeRefused, match=changed):
        resume.same_rig(record, RIG, IDS, upgraded)


def test_an_interrupted_tests_files_and_their_hashes_move_with_its_folder(tmp_path):
    folder = tmp_path / "tests" / safe_name("t::b")
    folder.mkdir(parents=True)
    (folder / "raw.csv").write_text("t_s\n1\n")
    name = f"tests/{folder.name}/raw.csv"
    record = {"sessions": [{}], "tests": {"t::b": {"requirements": ["X"], "verdict": "INTERRUPTED", "files": [name],
                                                   "files_sha256": {name: sha256_file(folder / "raw.csv")}}}}
    (tmp_path / "record.json").write_text(json.dumps(record))
    RunRecorder(tmp_path, {}, resume=True)
    (attempt,) = json.loads((tmp_path / "record.json").read_text())["tests"]["t::b"]["previous_attempts"]
    assert attempt["files"] == list(attempt["files_sha256"]) == [f"tests/{folder.name}.attempt-1/raw.csv"]
    assert sha256_file(tmp_path / attempt["files"][0]) == attempt["files_sha256"][attempt["files"][0]]


def test_a_killed_session_is_closed_and_its_resume_no_longer_reads_as_abandoned(tmp_path):
    """pytest killed after its grace period: the record and its last session are finished by the harness; the
    resumed session starts clean, so the run's kind can end COMPLETE once it does."""
    record = {"finished": None, "sessions": [{"started": "t0", "finished": None, "exit_status": None}], "tests": {}}
    (tmp_path / "record.json").write_text(json.dumps(record))
    assert finish_abandoned(tmp_path, 137, {"signal": "SIGTERM", "test": None}, killed=True)
    killed = json.loads((tmp_path / "record.json").read_text())
    assert killed["abandoned"] and killed["sessions"][0]["exit_status"] == 137 and killed["sessions"][0]["finished"]
    assert run_kind.ending(killed) is run_kind.Ending.INTERRUPTED
    RunRecorder(tmp_path, {}, resume=True).finish(0, None)
    resumed = json.loads((tmp_path / "record.json").read_text())
    assert resumed["abandoned"] is None and run_kind.of(resumed).words == "RESUMED (2 sessions), COMPLETE"
