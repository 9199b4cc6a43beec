"""A finished run's outputs: callables registered under the `hil.outputs` entry-point group, as drivers are under
`hil.drivers`, each given the run folder and its record (typed, valid against the published schema) once the run has
ended and before it is sealed, so the files it writes into the folder are sealed with the rest. A lab adds its own
(a results database, a PDF) without editing `hil/`:

    [project.entry-points."hil.outputs"]
    lims = "acme_lab.outputs:to_lims"      # def to_lims(run_dir: Path, record: RunRecord | PlacesRecord) -> Path | None

An output is a view of the record, never part of a verdict. hil's own run in this process, each on its own copy of
the record. Another package's runs in a process of its own (hil.run.output_child), given OUTPUT_TIMEOUT_S and
killed after it: signals are held while a run is sealed, so a hung output must not hold the seal, nor go on writing
into a folder being sealed. One that fails or times out is named and the run is sealed all the same. One that changes
or removes a file the run already held (its record, a test's evidence, a unit's folder; but for the file it returns,
its own, written anew when a run is sealed again) stops the seal: what would be sealed is no longer what the run
recorded. A name two packages register is refused (which one would run is not for the suite to guess)."""

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from hil.run.record import RECORD, PlacesRecord, RunRecord, check

ENTRY_POINT_GROUP = "hil.outputs"
OUTPUT_TIMEOUT_S = 300.0
BUILT_IN_PACKAGE = "hil"
Output = Callable[[Path, RunRecord | PlacesRecord], Path | None]


@dataclass(frozen=True)
class Written:
    """What one output did: the file it wrote (None: none), or the error that stopped it; `changed`: the files the
    run held that it changed or removed (the run must not be sealed)."""

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


def _snapshot(run_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the run: its size, modification time and inode; record.json's by its content."""
    files = {}
    for folder, _, names in os.walk(run_dir):
        for name in names:
            path = Path(folder, name)
            stat = path.stat()
            files[str(path.relative_to(run_dir))] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    record = run_dir / "record.json"
    if record.is_file():
        files["record.json"] = (0, int.from_bytes(hashlib.sha256(record.read_bytes()).digest()[:8], "big"), 0)
    return files


def _changes(before: dict, after: dict, own: str | None) -> tuple[str, ...]:
    """The files the run held that are changed or gone, but for the output's own file (written anew on a reseal)."""
    return tuple(
        f"{name} {'removed' if name not in after else 'changed'}"
        for name, stat in sorted(before.items())
        if after.get(name) != stat and name != own
    )


def _in_process(entry: importlib.metadata.EntryPoint, run_dir: Path, typed) -> tuple[Path | None, str | None]:
    try:
        output: Output = entry.load()
        return output(run_dir, typed.model_copy(deep=True)), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _in_child(entry: importlib.metadata.EntryPoint, run_dir: Path) -> tuple[Path | None, str | None]:
    command = [sys.executable, "-m", "hil.run.output_child", entry.value, str(run_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=OUTPUT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"did not finish within {OUTPUT_TIMEOUT_S:g} s (stopped)"
    try:
        said = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, f"ended (exit {done.returncode}) without saying what it wrote: {done.stderr.strip()[-300:]}"
    return (Path(said["path"]) if said.get("path") else None), said.get("error")


def write_all(run_dir: Path, record: dict) -> list[Written]:
    """Every installed output on the finished run, in the order of their names; none when the record is not valid
    against the published schema (one Written says why)."""
    checked = check(run_dir, limit=3)
    if checked.older is not None or checked.problems:
        return [Written("outputs", error=checked.said() if checked.older is not None else "; ".join(checked.problems))]
    try:
        typed = RECORD.validate_python(record)
    except ValidationError as exc:  # what the published schema allows and the models do not (a number too large)
        return [Written("outputs", error=f"the record's models refuse it: {exc.errors()[0]['msg']}")]
    done = []
    for name, entries in installed().items():
        if len(entries) > 1:
            registered = " and ".join(f"{e.dist.name if e.dist else '?'} ({e.value})" for e in entries)
            done.append(Written(name, error=f"registered twice, by {registered}: uninstall one"))
            continue
        (entry,) = entries
        before = _snapshot(run_dir)
        ours = entry.dist is not None and entry.dist.name == BUILT_IN_PACKAGE
        path, error = _in_process(entry, run_dir, typed) if ours else _in_child(entry, run_dir)
        own = os.path.relpath(path, run_dir) if path else None
        done.append(Written(name, path, error, _changes(before, _snapshot(run_dir), own)))
    return done
