"""A finished run's outputs: callables registered under the `hil.outputs` entry-point group, as drivers are under
`hil.drivers`, each given the run folder and its record (typed, validated against the published schema) once the
run has ended and before it is sealed, so the files it writes into the folder are sealed with the rest. A lab adds
its own (a results database, a PDF) without editing `hil/`:

    [project.entry-points."hil.outputs"]
    lims = "acme_lab.outputs:to_lims"      # def to_lims(run_dir: Path, record: RunRecord | PlacesRecord) -> Path | None

An output that fails is named with its error; the run is sealed all the same (an output is a view of the record,
never part of a verdict)."""

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hil.run.record import PlacesRecord, RunRecord

ENTRY_POINT_GROUP = "hil.outputs"
Output = Callable[[Path, RunRecord | PlacesRecord], Path | None]


@dataclass(frozen=True)
class Written:
    """What one output did: the file it wrote (None: none), or the error that stopped it."""

    name: str
    path: Path | None = None
    error: str | None = None


def installed() -> dict[str, importlib.metadata.EntryPoint]:
    """Every output of the installed packages, by name (a name registered twice: the first package's)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry)
    return dict(sorted(found.items()))


def write_all(run_dir: Path, record: RunRecord | PlacesRecord) -> list[Written]:
    """Run every installed output on the finished run, in the order of their names."""
    done = []
    for name, entry in installed().items():
        try:
            output: Output = entry.load()
            done.append(Written(name, output(run_dir, record)))
        except Exception as exc:  # a lab's output may fail in any way: the run is sealed all the same
            done.append(Written(name, error=f"{type(exc).__name__}: {exc}"))
    return done
