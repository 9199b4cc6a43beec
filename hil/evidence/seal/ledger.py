"""The ledger: one JSON line per seal, outside the run folders, each chained to the one before it.

An entry's `hash` is SHA-256(previous entry's hash + the canonical JSON of its fields but `prev` and `hash`);
the first entry's previous hash is 64 zeros. Editing, removing or reordering an entry breaks the chain at that
line. A signed entry's signature covers its fields with `prev`, so a chain cannot be rebuilt past a signed
entry without its key. Appends hold an exclusive flock: concurrent runs never interleave or fork the chain."""

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hil.evidence.run_kind import Ending, Evidence
from hil.evidence.seal import signing

LEDGER_ENV = "HIL_LEDGER"
GENESIS = "0" * 64
FIELDS = (
    "run_id",
    "run_path",
    "manifest_sha256",
    "sealed_at",
    "host",
    "kind",
    "event",
    "evidence",
    "public_key",
    "signature",
)
LEGACY_FIELDS = tuple(f for f in FIELDS if f != "evidence")  # entries sealed before runs said what they are evidence of
KINDS = tuple(ending.value for ending in Ending)
EVIDENCE = tuple(evidence.value for evidence in Evidence)


class LedgerError(Exception):
    pass


@dataclass(frozen=True)
class Entry:
    line: int
    fields: dict
    prev: str
    hash: str


def default_path(reports: Path) -> Path:
    return Path(os.environ.get(LEDGER_ENV) or reports / "ledger.jsonl")


def canonical(fields: dict) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(prev: str, fields: dict) -> str:
    return hashlib.sha256(prev.encode() + canonical(fields)).hexdigest()


def signed_message(fields: dict, prev: str) -> bytes:
    return canonical({k: v for k, v in fields.items() if k != "signature"} | {"prev": prev})


def append(ledger: Path, fields: dict, key: signing.Ed25519PrivateKey | None = None) -> Entry:
    """Chain and append one seal. Refuses to extend a ledger whose last line is not a valid entry."""
    fields = dict(fields, public_key=signing.public_hex(key.public_key()) if key else None, signature=None)
    if set(fields) != set(FIELDS):
        raise LedgerError(f"ledger fields {sorted(fields)} != {sorted(FIELDS)}")
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with open(ledger, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        handle.seek(0)
        lines = handle.read().decode("utf-8", errors="replace").split("\n")
        if lines[-1] != "":
            raise LedgerError(f"{ledger}: last line is cut short; the ledger needs repair before any seal")
        entries = [line for line in lines if line]
        prev = GENESIS
        if entries:
            last = _parse(entries[-1], len(entries))
            if isinstance(last, str):
                raise LedgerError(f"{ledger}:{last}; the ledger needs repair before any seal")
            prev = last.hash
        if key:
            fields["signature"] = signing.sign(key, signed_message(fields, prev))
        entry = Entry(len(entries) + 1, fields, prev, entry_hash(prev, fields))
        handle.write((json.dumps(fields | {"prev": prev, "hash": entry.hash}, sort_keys=True) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def read(ledger: Path) -> tuple[list[Entry], list[str]]:
    """The entries, and every problem of the file and its chain, each naming its line."""
    if not ledger.is_file():
        return [], [f"{ledger}: no ledger"]
    entries, problems, prev = [], [], GENESIS
    with open(ledger, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)  # never read half an append
        text = handle.read().decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines[-1] != "":
        problems.append(f"{ledger}:{len(lines)}: cut short (no newline)")
    for number, line in enumerate(lines[:-1], 1):
        entry = _parse(line, number)
        if isinstance(entry, str):
            problems.append(f"{ledger}:{entry}")
            continue
        if entry.prev != prev:
            problems.append(
                f"{ledger}:{number}: chain broken: prev is not the hash of the entry before "
                f"(an entry was removed, inserted or reordered)"
            )
        if entry_hash(entry.prev, entry.fields) != entry.hash:
            problems.append(f"{ledger}:{number}: hash does not match the entry (the entry was edited)")
        if entry.fields["signature"] and not signing.valid(
            entry.fields["public_key"], entry.fields["signature"], signed_message(entry.fields, entry.prev)
        ):
            problems.append(f"{ledger}:{number}: signature invalid for key {entry.fields['public_key']}")
        entries.append(entry)
        prev = entry.hash
    return entries, problems


def latest(entries: list[Entry], run_id: str) -> Entry | None:
    """The run's last seal: a report rebuild or a validation document reseals a run, superseding earlier seals."""
    return next((e for e in reversed(entries) if e.fields["run_id"] == run_id), None)


def _parse(line: str, number: int) -> Entry | str:
    try:
        data = json.loads(line)
    except ValueError:
        return f"{number}: not JSON"
    if not isinstance(data, dict) or set(data) not in ({*FIELDS, "prev", "hash"}, {*LEGACY_FIELDS, "prev", "hash"}):
        return f"{number}: not a ledger entry (fields differ)"
    optional = ("public_key", "signature")
    fields = FIELDS if "evidence" in data else LEGACY_FIELDS
    if not all(isinstance(data[k], str) or (k in optional and data[k] is None) for k in fields) or not all(
        isinstance(data[k], str) for k in ("prev", "hash")
    ):
        return f"{number}: not a ledger entry (a field is not text)"
    if (
        data["kind"] not in KINDS
        or data.get("evidence", Evidence.DEVICE) not in EVIDENCE
        or (data["signature"] is not None and not data["public_key"])
    ):
        return f"{number}: not a ledger entry (kind, evidence or key)"
    prev, digest = data.pop("prev"), data.pop("hash")
    return Entry(number, data, str(prev), str(digest))
