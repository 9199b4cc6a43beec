"""Tamper cases on a real sealed run: one `hil verify -k DA-BOLUS-001` signed with a test key, then copies of
its folder and of the ledger are altered; `hil evidence verify` and `hil report` must name each alteration."""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from hil.evidence.seal import ledger
from tests.ledger_forgery import rechain as rechain_rows
from tests.system.conftest import HIL, ROOT, event_folder

MANIFEST = "manifest.sha256"


def hil(*args: str, ledger_path=None, key=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (ledger.LEDGER_ENV, "HIL_SIGNING_KEY")}
    env |= {ledger.LEDGER_ENV: str(ledger_path)} if ledger_path else {}
    env |= {"HIL_SIGNING_KEY": str(key)} if key else {}
    return subprocess.run([HIL, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory):
    key = tmp_path_factory.mktemp("keys") / "operator.key"
    assert hil("evidence", "keygen", str(key)).returncode == 0
    done = hil("--json", "verify", "-k", "DA-BOLUS-001", key=key)
    run_dir = event_folder(done.stdout)
    assert run_dir, done.stdout + done.stderr
    return run_dir, key.with_name("operator.key.pub"), done.stderr


@pytest.fixture
def copy(signed_run, tmp_path):
    """A copy of the run under its own name, checked against the real ledger."""
    target = tmp_path / signed_run[0].name
    shutil.copytree(signed_run[0], target, symlinks=True)
    return target


def lines(run_dir):
    return (run_dir / MANIFEST).read_text().splitlines()


def write_lines(run_dir, rows):
    (run_dir / MANIFEST).write_text("".join(row + "\n" for row in rows))


def edit_data_and_rewrite_manifest(run_dir):
    csv = next(run_dir.glob("tests/*/*.csv"))
    csv.write_text(csv.read_text().replace("0", "1", 1))
    write_lines(run_dir, [f"{hashlib.sha256((run_dir / name).read_bytes()).hexdigest()}  {name}"
                          for name in (row.split("  ", 1)[1] for row in lines(run_dir))])


def empty_the_run(run_dir):
    for child in run_dir.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    (run_dir / MANIFEST).write_text("")


def nested_manifest(run_dir):
    (next(run_dir.glob("tests/*")) / MANIFEST).write_text("")


def line_outside_the_run(run_dir):
    outside = run_dir.parent / "outside.txt"  # listed with its true digest: only where it lies gives it away
    outside.write_text("not evidence of this run\n")
    write_lines(run_dir, lines(run_dir) + [f"{hashlib.sha256(outside.read_bytes()).hexdigest()}  ../outside.txt"])


def duplicate_line(run_dir):
    write_lines(run_dir, lines(run_dir) + lines(run_dir)[:1])


def symlinked_directory(run_dir):
    extra = run_dir.parent / "extra"
    extra.mkdir()
    (extra / "balance.csv").write_text("t,mass\n")
    (run_dir / "tests" / "extra").symlink_to(extra, target_is_directory=True)


def empty_directory(run_dir):
    (run_dir / "tests" / "added").mkdir()


@pytest.mark.parametrize("tamper, named", [
    (edit_data_and_rewrite_manifest, "manifest.sha256: SHA-256 differs from the run's seal"),
    (empty_the_run, "manifest.sha256: lists no file"),
    (nested_manifest, "/manifest.sha256: not in the manifest"),
    (line_outside_the_run, "path '../outside.txt' leaves the run folder"),
    (duplicate_line, "listed again (first on line 1)"),
    (symlinked_directory, "tests/extra: a symbolic link"),
    (empty_directory, "tests/added/: folder not in the manifest"),
], ids=lambda v: v.__name__ if callable(v) else "")
def test_a_tampered_run_is_named_by_evidence_verify(copy, tamper, named):
    assert hil("evidence", "verify", str(copy)).returncode == 0, "the untouched copy must verify"
    tamper(copy)
    checked = hil("evidence", "verify", str(copy))
    assert checked.returncode == 1 and named in checked.stderr, checked.stdout + checked.stderr


def test_the_run_is_sealed_signed_and_its_report_shows_the_key(signed_run):
    run_dir, public, output = signed_run
    key = public.read_text().strip()
    assert f"signed by ed25519:{key}, chained into the ledger" in output
    shown = json.loads((run_dir / "report" / "about.json").read_text())
    assert shown["metadata"]["seal_signing_key"] == f"ed25519:{key}"
    checked = hil("evidence", "verify", str(run_dir), "--key", str(public))
    assert checked.returncode == 0 and checked.stdout.startswith("ok: "), checked.stdout + checked.stderr


def test_hil_report_refuses_a_tampered_run_and_leaves_it_as_it_was(signed_run, tmp_path):
    """On a copy of the run where a copy of the ledger seals it (`hil report` never reseals a copy elsewhere)."""
    path = ledger_copy(tmp_path)
    run_dir = tmp_path / "runs" / signed_run[0].name
    shutil.copytree(signed_run[0], run_dir, symlinks=True)
    csv = next(run_dir.glob("tests/*/*.csv"))
    csv.write_text(csv.read_text() + "9999,1\n")
    before, sealed = (run_dir / MANIFEST).read_bytes(), path.read_text()
    done = hil("report", str(run_dir), ledger_path=path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"refused: {run_dir.name} no longer matches its seal: {csv.relative_to(run_dir).as_posix()}: "
                           f"SHA-256 differs from the manifest\n")
    assert (run_dir / MANIFEST).read_bytes() == before and path.read_text() == sealed


def ledger_copy(tmp_path, change=None, rechain=False):
    """The real ledger copied to tmp_path, with change applied to its last entry of the run; with rechain every
    hash after it is recomputed, as a forger would."""
    with open(ROOT / "reports" / "ledger.jsonl", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)  # other runs of this session append to it meanwhile
        rows = [json.loads(row) for row in handle.read().splitlines()]
    if change:
        change(rows)
    if rechain:
        rechain_rows(rows)
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def last_of(rows, run_id):
    return next(row for row in reversed(rows) if row["run_id"] == run_id)


def test_an_edited_ledger_entry_breaks_the_chain(signed_run, tmp_path):
    run_dir = signed_run[0]
    path = ledger_copy(tmp_path, lambda rows: last_of(rows, run_dir.name).update(host="elsewhere"))
    checked = hil("evidence", "verify", str(run_dir), ledger_path=path)
    assert checked.returncode == 1 and "hash does not match the entry (the entry was edited)" in checked.stderr


def test_a_forged_signature_is_refused_even_with_the_chain_rebuilt(signed_run, tmp_path):
    run_dir = signed_run[0]

    def forge(rows):
        row = last_of(rows, run_dir.name)
        row["signature"] = ("0" if row["signature"][0] != "0" else "1") + row["signature"][1:]

    checked = hil("evidence", "verify", str(run_dir), ledger_path=ledger_copy(tmp_path, forge, rechain=True))
    assert checked.returncode == 1 and "signature invalid for key" in checked.stderr, checked.stderr
    assert "chain broken" not in checked.stderr and "hash does not match" not in checked.stderr


def test_a_removed_run_is_named_by_the_ledger_check(signed_run, tmp_path):
    """The ledger copy's run paths point under tmp_path: the run is 'removed' until its copy is put there."""
    run_dir = signed_run[0]
    path = ledger_copy(tmp_path)
    checked = hil("evidence", "verify", "--all", ledger_path=path)
    assert checked.returncode == 1 and f"{run_dir.name}: removed (sealed on ledger line" in checked.stderr
    shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name, symlinks=True)
    checked = hil("evidence", "verify", "--all", ledger_path=path)
    assert f"{run_dir.name}: removed" not in checked.stderr and f"{run_dir.name}:" not in checked.stderr
