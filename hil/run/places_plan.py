"""The plan of `hil verify --places A,B,…` (docs/lab.md): one rig file per place, written into the run (the given
rig on that place), and with `--split` the selected tests spread over the places to shorten the campaign."""

import json
import re
import statistics
from pathlib import Path

from hil.evidence.run import rig_times, wall_seconds
from hil.rig.config import RigConfig
from hil.rig.model import LAB_NAME_PATTERN


class PlacesError(ValueError):
    """A --places run that cannot start, said in one line."""


def parse(text: str, config: RigConfig) -> list[str]:
    """The places of `--places`, in order; the rig must name a labgrid place for them to stand in for."""
    if not config.section("labgrid"):
        raise PlacesError(f"--places runs a rig on labgrid places; {config.path} has no labgrid: section (docs/lab.md)")
    places = [p.strip() for p in text.split(",")]
    bad = [p for p in places if not re.fullmatch(LAB_NAME_PATTERN, p)]
    if bad:
        raise PlacesError(f"--places {text!r}: {bad[0]!r} is not a place name (letters, digits, '.', '_', '-')")
    twice = sorted({p for p in places if places.count(p) > 1})
    if twice:
        raise PlacesError(f"--places {text!r}: {', '.join(twice)} named twice (a place is one pump unit)")
    return places


def unit_rig_file(folder: Path, config: RigConfig, place: str, index: int) -> Path:
    """The rig of one unit: the given rig on `place`, kept in the run. On an emulated rig each unit's emulator seed
    is the rig's seed + the unit's index, as each place holds a pump unit of its own (the first unit's numbers are
    the rig's own)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# unit {index + 1} of hil verify --places: {config.path.name} on labgrid place {place}",
        f"extends: {json.dumps(str(config.path.resolve()))}",
        f"labgrid: {{place: {place}}}",
    ]
    if config.emulated:
        seed = int(config.section("emulator").get("seed", 1)) + index
        lines.append(f"emulator: {{seed: {seed}}}  # a pump unit of its own: the rig's seed + {index}")
    path = folder / f"{place}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def split(nodes: list[str], places: list[str], runs: Path) -> dict[str, list[str]]:
    """The tests spread over the places, longest first onto the least loaded place, by the wall time earlier runs
    took for each (on a bench that is its rig time; in lockstep, what its steps cost) (a test never timed counts as
    the median of those timed)."""
    timed = {node: seconds for node, (seconds, _) in rig_times(runs, nodes, wall_seconds).items()}
    typical = statistics.median(timed.values()) if timed else 1.0
    load = dict.fromkeys(places, 0.0)
    plan: dict[str, list[str]] = {place: [] for place in places}
    for node in sorted(nodes, key=lambda n: (-timed.get(n, typical), n)):
        place = min(places, key=lambda p: (load[p], places.index(p)))
        plan[place].append(node)
        load[place] += timed.get(node, typical)
    return plan


def selection(nodes: list[str], k: str | None) -> str:
    """A -k expression selecting exactly these tests (by their names, which carry the requirement id)."""
    names = " or ".join(sorted(node.rsplit("::", 1)[-1] for node in nodes))
    return f"({k}) and ({names})" if k else names
