"""Sealed evidence: the manifest, the chained ledger and the signature, each tamper case on a synthetic run."""

import json
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hil import cli, project
from hil.evidence import seal
from hil.evidence.run import sha256_file
from hil.evidence.run_kind import Ending, Evidence, RunKind
from hil.evidence.seal import ledger, manifest, signing
from tests.ledger_forgery import rechain as rechain_rows


KIND = RunKind(Ending.COMPLETE, Evidence.EMULATED, 1)


@pytest.fixture
def reports(tmp_path, monkeypatch):
    monkeypatch.setenv(project.ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(ledger.LEDGER_ENV, raising=False)
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    return tmp_path / "reports"


def make_run(reports: Path, name: str = "20260101T000000Z-emulated") -> Path:
    run_dir = reports / "runs" / name
    (run_dir / "tests" / "bolus").mkdir(parents=True)
    (run_dir / "allure-results").mkdir()
    (run_dir / "tests" / "bolus" / "balance.csv").write_text("t,mass\n0,0\n1,2.0\n")
    (run_dir / "allure-results" / "a-result.json").write_text("{}")
    (run_dir / "notes.txt").write_text("run notes\n")
    return run_dir


@pytest.fixture
def sealed(reports):
    run_dir = make_run(reports)
    seal.seal_run(run_dir, reports / "ledger.jsonl", KIND)
    return run_dir


def problems(run_dir: Path) -> list[str]:
    return seal.check_run(run_dir, run_dir.parents[1] / "ledger.jsonl")


def rewrite_manifest(run_dir: Path, lines: list[str]) -> None:
    (run_dir / manifest.MANIFEST).write_text("".join(line + "\n" for line in lines))


def manifest_lines(run_dir: Path) -> list[str]:
    return (run_dir / manifest.MANIFEST).read_text().splitlines()


def test_an_intact_run_has_no_problem(sealed):
    assert problems(sealed) == []
    assert len(manifest_lines(sealed)) == 3


def test_edited_data_is_named(sealed):
    (sealed / "tests/bolus/balance.csv").write_text("t,mass\n0,0\n1,2.1\n")
    assert problems(sealed) == ["tests/bolus/balance.csv: SHA-256 differs from the manifest"]


def test_a_manifest_rewritten_consistently_after_editing_data_differs_from_its_seal(sealed):
    (sealed / "tests/bolus/balance.csv").write_text("t,mass\n0,0\n1,2.1\n")
    manifest.write_manifest(sealed)
    assert manifest.verify_manifest(sealed) == []  # the files agree with the new manifest ...
    assert any("SHA-256 differs from the run's seal" in p for p in problems(sealed))  # ... not with the ledger


def test_a_run_emptied_with_an_empty_manifest_is_refused(sealed):
    for path in sorted(sealed.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (sealed / manifest.MANIFEST).write_text("")
    found = problems(sealed)
    assert "manifest.sha256: lists no file" in found
    assert any("differs from the run's seal" in p for p in found)


def test_a_nested_file_named_manifest_is_not_excluded(sealed):
    (sealed / "tests" / manifest.MANIFEST).write_text("")
    assert problems(sealed) == ["tests/manifest.sha256: not in the manifest"]


@pytest.mark.parametrize("name, reason", [("../../../../etc/hostname", "leaves the run folder"),
                                          ("/etc/hostname", "is absolute"), ("tests//x", "is not a plain relative"),
                                          ("./notes.txt", "is not a plain relative"),
                                          ("manifest.sha256", "is the manifest itself")])
def test_a_manifest_line_outside_the_run_is_refused_and_never_read(sealed, monkeypatch, name, reason):
    read = []
    monkeypatch.setattr(manifest, "sha256_file", lambda path: read.append(Path(path)) or "0" * 64)
    rewrite_manifest(sealed, manifest_lines(sealed) + [f"{'0' * 64}  {name}"])
    assert any(f"path {name!r} {reason}" in p for p in manifest.verify_manifest(sealed))
    assert all(path.resolve().is_relative_to(sealed) for path in read)


def test_duplicate_manifest_lines_are_refused(sealed):
    lines = manifest_lines(sealed)
    rewrite_manifest(sealed, lines + [lines[0]])
    assert f"manifest.sha256:4: {lines[0].split('  ')[1]} listed again (first on line 1)" in manifest.verify_manifest(sealed)


@pytest.mark.parametrize("line", ["not a line", f"{'G' * 64}  notes.txt", f"{'0' * 63}  notes.txt", ""])
def test_malformed_manifest_lines_are_refused(sealed, line):
    rewrite_manifest(sealed, manifest_lines(sealed) + [line])
    assert "manifest.sha256:4: malformed line (expected '<64 hex digits>  <path>')" in manifest.verify_manifest(sealed)


def test_a_symlinked_directory_of_extra_files_is_refused_and_not_followed(sealed, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "forged.csv").write_text("1\n")
    (sealed / "tests" / "more").symlink_to(extra)
    assert problems(sealed) == ["tests/more: a symbolic link (a run holds only its own files and folders)"]


def test_a_symlinked_file_even_when_listed_is_refused(sealed):
    (sealed / "notes.txt").unlink()
    (sealed / "notes.txt").symlink_to(sealed / "tests/bolus/balance.csv")
    assert problems(sealed) == ["notes.txt: a symbolic link (a run holds only its own files and folders)",
                                "notes.txt: missing (listed on manifest.sha256:2)"]


def test_an_added_empty_directory_is_refused(sealed):
    (sealed / "tests" / "late").mkdir()
    assert problems(sealed) == ["tests/late/: folder not in the manifest (no listed file in it)"]


def test_sealing_removes_empty_folders_and_refuses_links(reports, tmp_path):
    run_dir = make_run(reports)
    (run_dir / "tests" / "empty" / "deeper").mkdir(parents=True)
    seal.seal_run(run_dir, reports / "ledger.jsonl", KIND)
    assert not (run_dir / "tests" / "empty").exists() and problems(run_dir) == []
    (run_dir / "link").symlink_to(tmp_path)
    with pytest.raises(seal.SealError, match="link: a symbolic link"):
        seal.seal_run(run_dir, reports / "ledger.jsonl", KIND)


def test_a_removed_run_is_named_by_the_ledger_check(sealed, reports):
    other = make_run(reports, "20260101T000100Z-emulated")
    seal.seal_run(other, reports / "ledger.jsonl", KIND)
    assert seal.check_ledger(reports / "ledger.jsonl") == (2, [])
    for path in sorted(other.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    other.rmdir()
    runs, found = seal.check_ledger(reports / "ledger.jsonl")
    assert runs == 2 and len(found) == 1 and found[0].startswith(f"{other.name}: removed (sealed on ledger line 2")


def test_a_sealed_run_missing_from_the_ledger_is_named(sealed, reports):
    unsealed = make_run(reports, "20260101T000200Z-emulated")
    manifest.write_manifest(unsealed)
    assert seal.check_ledger(reports / "ledger.jsonl")[1] == [f"{unsealed.name}: has a manifest but is not in the ledger"]
    assert problems(unsealed)[-1].startswith(f"{unsealed.name}: not in the ledger")


def edit_ledger(path: Path, number: int, change, rechain: bool = False) -> None:
    """Apply change to the fields of entry `number`; with rechain, recompute every hash after it as a forger would."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    change(rows[number - 1])
    if rechain:
        rechain_rows(rows)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_an_edited_ledger_entry_breaks_the_chain(sealed, reports):
    path = reports / "ledger.jsonl"
    edit_ledger(path, 1, lambda row: row.update(host="elsewhere"))
    assert any(p.endswith("ledger.jsonl:1: hash does not match the entry (the entry was edited)") for p in problems(sealed))


def test_a_removed_ledger_entry_breaks_the_chain(sealed, reports):
    path = reports / "ledger.jsonl"
    other = make_run(reports, "20260101T000100Z-emulated")
    seal.seal_run(other, path, KIND)
    path.write_text(path.read_text().splitlines(keepends=True)[1])
    assert any("ledger.jsonl:1: chain broken" in p for p in problems(other))


def test_a_forged_signature_is_refused_even_with_a_rebuilt_chain(reports, tmp_path, monkeypatch):
    key_path = tmp_path / "operator.key"
    signing.generate(key_path)
    monkeypatch.setenv(signing.KEY_ENV, str(key_path))
    run_dir = make_run(reports)
    seal.seal_run(run_dir, reports / "ledger.jsonl", KIND, key=signing.key_from_env())
    assert problems(run_dir) == []
    forged = lambda row: row.update(signature=row["signature"][:-2] + ("00" if row["signature"][-2:] != "00" else "11"))
    edit_ledger(reports / "ledger.jsonl", 1, forged, rechain=True)
    assert [p.split(": ", 1)[1] for p in problems(run_dir)] == [
        f"signature invalid for key {signing.public_hex(signing.key_from_env().public_key())}"]


def test_a_reseal_with_another_key_is_caught_by_the_trusted_key(reports, tmp_path):
    signing.generate(tmp_path / "operator.key")
    signing.generate(tmp_path / "forger.key")
    operator = signing.load_public(tmp_path / "operator.key.pub")
    run_dir = make_run(reports)
    seal.seal_run(run_dir, reports / "ledger.jsonl", KIND, key=signing.load_private(tmp_path / "operator.key"))
    assert seal.check_run(run_dir, reports / "ledger.jsonl", operator) == []
    (run_dir / "notes.txt").write_text("forged\n")
    seal.seal_run(run_dir, reports / "ledger.jsonl", KIND, key=signing.load_private(tmp_path / "forger.key"))
    assert problems(run_dir) == []  # a second seal by whoever holds the tool is valid on its own ...
    found = seal.check_run(run_dir, reports / "ledger.jsonl", operator)  # ... not against the operator's key
    assert len(found) == 1 and "signed by another key" in found[0]


def test_a_private_key_is_0600_never_overwritten_and_refused_when_readable(tmp_path):
    path = tmp_path / "k"
    signing.generate(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    with pytest.raises(signing.SigningKeyError, match="never overwritten"):
        signing.generate(path)
    os.chmod(path, 0o644)
    with pytest.raises(signing.SigningKeyError, match="readable by others"):
        signing.load_private(path)


def test_the_ledger_entry_records_the_run_and_the_kind_of_seal(reports):
    run_dir = make_run(reports)
    kind = RunKind(Ending.STOPPED_AT_SETUP, Evidence.TOOL_VALIDATION, 1)
    sealed = seal.seal_run(run_dir, reports / "ledger.jsonl", kind)
    row = json.loads((reports / "ledger.jsonl").read_text())
    assert row["run_id"] == run_dir.name and row["run_path"] == f"runs/{run_dir.name}"
    assert row["kind"] == "stopped at setup" and row["evidence"] == "tool validation"
    assert row["event"] == seal.SEALED and row["signature"] is None
    assert row["prev"] == ledger.GENESIS and row["hash"] == sealed.entry.hash
    assert row["manifest_sha256"] == manifest.sha256_file(run_dir / manifest.MANIFEST)


def _append_many(path: str, worker: int) -> None:
    for n in range(15):
        ledger.append(Path(path), {"run_id": f"r{worker}-{n}", "run_path": "runs/x", "manifest_sha256": "0" * 64,
                                   "sealed_at": "t", "host": "h", "kind": "complete", "event": seal.SEALED,
                                   "evidence": "device"})


def test_concurrent_seals_keep_one_chain(tmp_path):
    path = tmp_path / "ledger.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    entries, found = ledger.read(path)
    assert found == [] and len(entries) == 60


def test_hil_report_refuses_a_tampered_run_and_reseals_an_intact_one(reports):
    sealed = make_run(reports)
    (sealed / "record.json").write_text(json.dumps({"run_id": sealed.name, "finished": "t", "tests": {}}))
    seal.seal_run(sealed, reports / "ledger.jsonl", KIND)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["report", str(sealed)])
    assert result.exit_code == 0, result.output
    entries, _ = ledger.read(reports / "ledger.jsonl")
    assert [e.fields["event"] for e in entries] == [seal.SEALED, seal.REBUILT]
    (sealed / "notes.txt").write_text("tampered\n")
    before = (sealed / manifest.MANIFEST).read_text()
    result = runner.invoke(cli.app, ["report", str(sealed)])
    assert result.exit_code == 1
    assert result.output.strip() == f"refused: {sealed.name} no longer matches its seal: notes.txt: SHA-256 differs from the manifest"
    assert (sealed / manifest.MANIFEST).read_text() == before and len(ledger.read(reports / "ledger.jsonl")[0]) == 2


def test_a_folder_without_a_run_record_is_never_sealed(reports):
    """Nothing says what such a run was (how it ended, what it is evidence of): no seal may say it for it."""
    run_dir = make_run(reports)
    done = CliRunner().invoke(cli.app, ["report", str(run_dir)])
    assert done.exit_code == 1 and "NOT SEALED" in done.output and "has no record.json" in done.output
    assert seal.last_entry(run_dir, reports / "ledger.jsonl") is None


@pytest.mark.parametrize("record, kind", [({"finished": "2026-01-01T00:00:00+00:00", "interrupted": None}, "complete"),
                                          ({"finished": "2026-01-01T00:00:00+00:00", "interrupted": {"signal": "SIGINT"}},
                                           "interrupted"),
                                          ({"finished": None}, "interrupted"),
                                          ({"finished": "2026-01-01T00:00:00+00:00", "rig_broken": "cannot open rig",
                                            "tests": {"t": {"phases": {"setup": {}, "teardown": {}}}}},
                                           "stopped at setup")])
def test_hil_report_seals_an_unsealed_run_as_its_record_says_it_ended(reports, record, kind):
    run_dir = make_run(reports)
    (run_dir / "record.json").write_text(json.dumps({"tests": {}} | record))
    assert CliRunner().invoke(cli.app, ["report", str(run_dir)]).exit_code == 0
    assert seal.last_entry(run_dir, reports / "ledger.jsonl").fields["kind"] == kind


def test_hil_evidence_verify_names_each_problem_and_exits_1(reports):
    sealed = make_run(reports)
    (sealed / "record.json").write_text('{"record_schema": 2, "tests": {}}')  # older than the published: unchecked
    seal.seal_run(sealed, reports / "ledger.jsonl", KIND)
    runner = CliRunner()
    done = runner.invoke(cli.app, ["evidence", "verify", str(sealed)])
    assert done.exit_code == 0 and "record_schema 2, older than the published 3: not checked" in done.output
    assert runner.invoke(cli.app, ["evidence", "verify", "--all"]).exit_code == 0
    (sealed / "tests" / "late").mkdir()
    result = runner.invoke(cli.app, ["evidence", "verify", str(sealed)])
    assert result.exit_code == 1 and "tests/late/: folder not in the manifest" in result.output
    assert runner.invoke(cli.app, ["evidence", "verify", "--all"]).exit_code == 1
    (sealed / "tests" / "late").rmdir()
    (sealed / "record.json").unlink()  # every other problem named as well
    result = runner.invoke(cli.app, ["evidence", "verify", str(sealed)])
    assert "record.json: missing (listed on" in result.output and "record.json: missing (nothing says" in result.output


def test_hil_report_never_reseals_a_copy(sealed, tmp_path):
    copy = tmp_path / "archive" / sealed.name
    shutil.copytree(sealed, copy)
    assert problems(sealed) == [] and seal.check_run(copy, sealed.parents[1] / "ledger.jsonl") == []
    result = CliRunner().invoke(cli.app, ["report", str(copy)])
    assert result.exit_code == 1
    assert result.output.strip() == f"refused: {copy} is a copy: the ledger seals {sealed.name} at {sealed.resolve()}"


def test_an_emptied_or_cut_ledger_does_not_hide_the_runs_it_lost(sealed, reports):
    (reports / "ledger.jsonl").write_text("")
    runs, found = seal.check_ledger(reports / "ledger.jsonl", run_folders=(reports / "runs",))
    assert runs == 0 and found == [f"{sealed.name}: has a manifest but is not in the ledger"]
    result = CliRunner().invoke(cli.app, ["evidence", "verify", "--all"])
    assert result.exit_code == 1 and f"{sealed.name}: has a manifest but is not in the ledger" in result.output


def test_a_ledger_line_whose_fields_are_not_text_is_refused_not_a_crash(sealed, reports):
    edit_ledger(reports / "ledger.jsonl", 1, lambda row: row.update(run_path=["..", "x"]), rechain=True)
    entries, found = ledger.read(reports / "ledger.jsonl")
    assert entries == [] and found == [f"{reports / 'ledger.jsonl'}:1: not a ledger entry (a field is not text)"]
    assert CliRunner().invoke(cli.app, ["evidence", "verify", "--all"]).exit_code == 1


@pytest.mark.parametrize("text, says", [("{bad", "not a readable record"), ("[]", "not a run record"),
                                        ('{"tests": []}', "not a run record")])
def test_a_broken_record_is_one_line_for_trace_and_report(reports, text, says):
    run_dir = make_run(reports)
    (run_dir / "record.json").write_text(text)
    for args in (["report", str(run_dir)], ["trace", "--run", str(run_dir)]):
        result = CliRunner().invoke(cli.app, args)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert len(lines) == 1 and lines[0].startswith(f"{run_dir / 'record.json'}: {says}"), result.output


def _recorded(run_dir: Path) -> None:
    """A record whose finished test hashed its balance.csv as it ended (what hil verify leaves when it is killed
    before its seal)."""
    csv = "tests/bolus/balance.csv"
    test = {"requirements": ["DA-BOLUS-001"], "verdict": "PASS", "files": [csv],
            "files_sha256": {csv: sha256_file(run_dir / csv)}}
    (run_dir / "record.json").write_text(json.dumps({"tests": {"bolus": test}, "finished": None}))


def test_hil_report_refuses_to_seal_an_unsealed_run_whose_evidence_changed_after_its_test(reports):
    run_dir = make_run(reports)
    _recorded(run_dir)
    (run_dir / "tests" / "bolus" / "balance.csv").write_text("t,mass\n0,0\n1,1.0\n")  # edited after the kill
    result = CliRunner().invoke(cli.app, ["report", str(run_dir)])
    assert result.exit_code == 1 and not (run_dir / manifest.MANIFEST).exists()
    assert result.output.strip() == (f"refused: {run_dir.name} was never sealed, and bolus: its evidence "
                                      "tests/bolus/balance.csv is not what the record hashed when it ended")
    assert seal.last_entry(run_dir, reports / "ledger.jsonl") is None
    (run_dir / "tests" / "bolus" / "balance.csv").unlink()
    result = CliRunner().invoke(cli.app, ["report", str(run_dir)])
    assert result.exit_code == 1 and "tests/bolus/balance.csv is gone since the record hashed it" in result.output


def test_hil_report_seals_an_unsealed_run_whose_evidence_is_as_recorded(reports):
    run_dir = make_run(reports)
    _recorded(run_dir)
    assert CliRunner().invoke(cli.app, ["report", str(run_dir)]).exit_code == 0
    assert seal.last_entry(run_dir, reports / "ledger.jsonl").fields["kind"] == "interrupted"


def test_the_ledger_check_names_a_run_that_was_never_sealed(sealed, reports):
    """A killed hil verify, or a run whose manifest was deleted and its ledger line cut: a record, no seal."""
    killed = make_run(reports, "20260102T000000Z-emulated")
    _recorded(killed)
    runs, found = seal.check_ledger(reports / "ledger.jsonl", run_folders=(reports / "runs",))
    assert runs == 1 and len(found) == 1 and found[0].startswith(f"{killed.name}: not sealed (no manifest, not in")
    result = CliRunner().invoke(cli.app, ["evidence", "verify", "--all"])
    assert result.exit_code == 1 and f"{killed.name}: not sealed" in result.output


def test_a_ledger_sealed_before_runs_said_their_evidence_still_reads(reports):
    """Entries without `evidence` (sealed by an earlier version) keep their chain; a new entry chains after them."""
    path = reports / "ledger.jsonl"
    legacy = {"run_id": "old", "run_path": "runs/old", "manifest_sha256": "0" * 64, "sealed_at": "t", "host": "h",
              "kind": "complete", "event": seal.SEALED, "public_key": None, "signature": None}
    digest = ledger.entry_hash(ledger.GENESIS, legacy)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(legacy | {"prev": ledger.GENESIS, "hash": digest}) + "\n")
    seal.seal_run(make_run(reports), path, KIND)
    entries, found = ledger.read(path)
    assert found == [] and [e.fields.get("evidence") for e in entries] == [None, "emulated rig"]
