"""The scenario files the requirements' cases name (CGM traces, nights, days), each read before anything runs: a
missing or unusable file is one line naming the requirement and the file, never a test that errors hours into a
campaign."""

from collections.abc import Callable, Iterable

import yaml

from hil.patient.days import load_day
from hil.patient.nights import load_night
from hil.procedures.cgm import read_scenario
from hil.specs.model import Requirement

LOADERS: dict[str, Callable[[str], object]] = {
    "scenario": read_scenario,
    "nights": load_night,
    "day_scenarios": load_day,
}


def scenario_problems(requirements: Iterable[Requirement]) -> list[str]:
    """One line per unusable scenario file, with the first requirement that names it."""
    problems, seen = [], set()
    for requirement in requirements:
        for case in requirement.cases:
            for key, load in LOADERS.items():
                names = getattr(case, key, None) or []
                for name in [names] if isinstance(names, str) else names:
                    if (key, name) in seen:
                        continue
                    seen.add((key, name))
                    try:
                        load(name)
                    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
                        detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                        problems.append(f"  {requirement.id} {key} '{name}': {detail}")
    return problems
