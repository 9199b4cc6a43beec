"""Sealing a run: its manifest, the manifest's SHA-256 (the seal) chained into the ledger, optionally signed.

Order: the run's files → its report (which shows the signing key, known beforehand) → the manifest (covering
the report) → the seal → the ledger entry. A run is checked the other way: every file against the manifest,
the manifest against the run's last ledger entry, the ledger's chain and signatures."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from hil.evidence.run import sha256_file, utc_now
from hil.evidence.run_kind import RunKind
from hil.evidence.seal import ledger, signing
from hil.evidence.seal.manifest import MANIFEST, ManifestError, verify_manifest, write_manifest

SEALED, REBUILT, RESUMED = "sealed", "report rebuilt", "resumed"
# sealed again with audit documents added and no report built (hil validate --no-report)
ATTACHED = "audit documents attached"


class SealError(Exception):
    pass


@dataclass(frozen=True)
class Seal:
    files: int
    entry: ledger.Entry


def seal_run(
    run_dir: Path,
    ledger_path: Path,
    kind: RunKind,
    event: str = SEALED,
    key: signing.Ed25519PrivateKey | None = None,
) -> Seal:
    """The ledger entry says how the run ended and what it is evidence of (kind.ending, kind.evidence), so that
    a seeded-defect campaign or a run that stopped at setup is never read as a device's complete evidence."""
    try:
        files = write_manifest(run_dir)
        entry = ledger.append(
            ledger_path,
            {
                "run_id": run_dir.name,
                "run_path": _relative(run_dir, ledger_path.parent),
                "manifest_sha256": sha256_file(run_dir / MANIFEST),
                "sealed_at": utc_now(),
                "host": socket.gethostname(),
                "kind": kind.ending.value,
                "event": event,
                "evidence": kind.evidence.value,
            },
            key,
        )
    except (ManifestError, ledger.LedgerError, OSError) as exc:
        raise SealError(str(exc)) from None
    return Seal(files, entry)


def shown_in_report(ledger_path: Path, key: signing.Ed25519PrivateKey | None) -> dict[str, str]:
    """The report's lines on its seal, written before the seal (which covers the report): the key that will sign
    it, and the ledger."""
    signer = f"ed25519:{signing.public_hex(key.public_key())}" if key else f"none (unsigned: {signing.KEY_ENV} not set)"
    return {"seal_signing_key": signer, "seal_ledger": str(ledger_path)}


def seals_of(run_id: str, ledger_path: Path) -> list[dict]:
    """The run's seals so far, oldest first, with their ledger lines (a resumed run's sessions each sealed it)."""
    return [e.fields | {"line": e.line} for e in ledger.read(ledger_path)[0] if e.fields["run_id"] == run_id]


def last_entry(run_dir: Path, ledger_path: Path) -> ledger.Entry | None:
    return ledger.latest(ledger.read(ledger_path)[0], run_dir.name)


def sealed_folder(entry: ledger.Entry, ledger_path: Path) -> Path:
    """Where the entry sealed its run. A copy elsewhere verifies against the entry but is never resealed: its
    seal would supersede the original's."""
    return (ledger_path.parent / entry.fields["run_path"]).resolve()


def check_run(run_dir: Path, ledger_path: Path, trusted_key: str | None = None) -> list[str]:
    """Every problem of one run: its files and manifest, its seal against its last ledger entry, the whole
    chain (one broken link makes every seal after it unprovable) and the signature."""
    entries, problems = ledger.read(ledger_path)
    problems = verify_manifest(run_dir) + problems
    entry = ledger.latest(entries, run_dir.name)
    if entry is None:
        return problems + [f"{run_dir.name}: not in the ledger {ledger_path} (never sealed, or its entry was removed)"]
    return problems + _entry_problems(run_dir, entry, ledger_path, trusted_key)


def check_ledger(
    ledger_path: Path, trusted_key: str | None = None, run_folders: tuple[Path, ...] = ()
) -> tuple[int, list[str]]:
    """The number of runs in the ledger, and every problem: the chain, each run's last seal against its folder
    (a removed folder is named), and the run folders that the ledger does not hold, sealed or not, next to its runs
    or in run_folders (so an emptied or cut ledger, a deleted manifest or a killed run hides no run)."""
    entries, problems = ledger.read(ledger_path)
    runs = {e.fields["run_id"]: e for e in entries}  # the last entry of each run
    for run_id, entry in runs.items():
        run_dir = sealed_folder(entry, ledger_path)
        if not run_dir.is_dir():
            problems.append(f"{run_id}: removed (sealed on ledger line {entry.line}, no folder at {run_dir})")
            continue
        problems += [f"{run_id}: {p}" for p in verify_manifest(run_dir)]
        problems += [f"{run_id}: {p}" for p in _entry_problems(run_dir, entry, ledger_path, trusted_key)]
    folders = {(ledger_path.parent / e.fields["run_path"]).parent.resolve() for e in entries}
    folders |= {folder.resolve() for folder in run_folders}
    for folder in sorted(f for f in folders if f.is_dir()):
        for run_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in runs):
            if (run_dir / MANIFEST).exists():
                problems.append(f"{run_dir.name}: has a manifest but is not in the ledger")
            elif (run_dir / "record.json").exists():
                problems.append(
                    f"{run_dir.name}: not sealed (no manifest, not in the ledger): still running, or stopped before "
                    f"its seal (`hil report {run_dir.name}` seals it once its files match its record)"
                )
    return len(runs), problems


def _entry_problems(run_dir: Path, entry: ledger.Entry, ledger_path: Path, trusted_key: str | None) -> list[str]:
    where = f"{ledger_path}:{entry.line}"
    problems = []
    manifest = run_dir / MANIFEST
    if manifest.is_file() and not manifest.is_symlink() and sha256_file(manifest) != entry.fields["manifest_sha256"]:
        problems.append(f"{MANIFEST}: SHA-256 differs from the run's seal on {where} (the manifest was rewritten)")
    public = entry.fields["public_key"]
    if trusted_key and public != trusted_key:
        problems.append(
            f"seal on {where}: {'unsigned' if not public else f'signed by another key {public}'}, "
            f"not by the trusted key {trusted_key}"
        )
    return problems


def _relative(run_dir: Path, base: Path) -> str:
    return Path(os.path.relpath(run_dir.resolve(), base.resolve())).as_posix()
