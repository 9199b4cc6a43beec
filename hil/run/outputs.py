"""A finished run's outputs: callables registered under the `hil.outputs` entry-point group, as drivers are under
`hil.drivers`, each given the run folder and its record (typed, valid against the published schema) once the run has
ended and before it is sealed, so the files it writes into the folder are sealed with the rest. A lab adds its own
(a results database, a PDF) without editing `hil/`:

    [project.entry-points."hil.outputs"]
    lims = "acme_lab.outputs:to_lims"      # def to_lims(run_dir: Path, record: RunRecord | PlacesRecord) -> Path | None

An output is a view of the record, never part of a verdict: one that fails, or has not finished within
OUTPUT_TIMEOUT_S (signals are held while a run is sealed, so a hung output must not hold the seal), is named with
its error and the run is sealed all the same. One that changes the record or a test's evidence stops the seal: what
would be sealed is no longer what the run recorded. Each gets its own copy of the record; a name two packages
register is refused (which one would run is not for the suite to guess)."""

import hashlib
import importlib.metadata
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hil.evidence.run import changed_evidence
from hil.run.record import RECORD, PlacesRecord, RunRecord, check

ENTRY_POINT_GROUP = "hil.outputs"
OUTPUT_TIMEOUT_S = 300.0
Output = Callable[[Path, RunRecord | PlacesRecord], Path | None]


@dataclass(frozen=True)
class Written:
    """What one output did: the file it wrote (None: none), or the error that stopped it; `changed`: the record or
    evidence it changed (the run must not be sealed)."""

    name: str
    path: Path | None = None
    error: str | None = None
    changed: tuple[str, ...] = ()


def installed() -> dict[str, list[importlib.metadata.EntryPoint]]:
    """Every output name of the installed packages, with the entry points registering it (more than one: refused)."""
    found: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if all(entry.value != other.value for other in found.get(entry.name, [])):
            found.setdefault(entry.name, []).append(entry)
    return dict(sorted(found.items()))


def _evidence(run_dir: Path, record: dict) -> tuple[bytes, list[str]]:
    return hashlib.sha256((run_dir / "record.json").read_bytes()).digest(), changed_evidence(record, run_dir)


def _run(output: Output, run_dir: Path, record: RunRecord | PlacesRecord) -> tuple[Path | None, str | None]:
    """The output called in a thread of its own, given OUTPUT_TIMEOUT_S; (its file, None) or (None, its error)."""
    result: list[tuple[Path | None, str | None]] = []

    def call() -> None:
        try:
            result.append((output(run_dir, record), None))
        except BaseException as exc:  # a lab's output may fail in any way, SystemExit included
            result.append((None, f"{type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=call, daemon=True, name="hil output")
    thread.start()
    thread.join(OUTPUT_TIMEOUT_S)
    return result[0] if result else (None, f"did not finish within {OUTPUT_TIMEOUT_S:g} s (left running)")


def write_all(run_dir: Path, record: dict) -> list[Written]:
    """Every installed output on the finished run, in the order of their names; none when the record is not valid
    against the published schema (one Written says why)."""
    checked = check(run_dir, limit=3)
    if checked.older is not None or checked.problems:
        return [Written("outputs", error=checked.said() if checked.older is not None else "; ".join(checked.problems))]
    typed = RECORD.validate_python(record)
    done = []
    for name, entries in installed().items():
        if len(entries) > 1:
            registered = " and ".join(f"{e.dist.name if e.dist else '?'} ({e.value})" for e in entries)
            done.append(Written(name, error=f"registered twice, by {registered}: uninstall one"))
            continue
        before = _evidence(run_dir, record)
        try:
            output: Output = entries[0].load()
        except Exception as exc:
            done.append(Written(name, error=f"cannot be loaded ({type(exc).__name__}: {exc})"))
            continue
        path, error = _run(output, run_dir, typed.model_copy(deep=True))
        digest, changed = _evidence(run_dir, record)
        changes = (["record.json"] if digest != before[0] else []) + [c for c in changed if c not in before[1]]
        done.append(Written(name, path, error, tuple(changes)))
    return done
