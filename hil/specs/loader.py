"""Load requirement files: YAML → JSON-Schema validation → catalogue checks → Requirement objects.

Every problem is reported with its file, line and key, all at once, so a spec author fixes a file in one pass.
"""

import json
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from hil import project, yamlfile
from hil.specs.metrics import METRICS, UNIT_RANGES
from hil.specs.model import AcrossUnits, Bound, Requirement, UnitsPlan
from hil.yamlfile import Problem, YamlFileError

_BOUND_PARAMS = ("window_h", "window_min", "band_pct")


class SpecError(YamlFileError):
    """Requirement files that cannot be used; `problems` lists every one found."""


def schema() -> dict[str, Any]:
    return json.loads(resources.files("hil.specs").joinpath("requirement.schema.json").read_text())


def spec_files(paths: Iterable[Path] | None = None) -> list[Path]:
    """Requirement files named, or found in the directories named (default `specs/`)."""
    found: list[Path] = []
    for path in paths or [project.specs()]:
        path = Path(path)
        found.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return found


def load_requirements(paths: Iterable[Path] | None = None) -> dict[str, Requirement]:
    """All requirements of the files, by id. Raises SpecError listing every problem of every file."""
    problems: list[Problem] = []
    requirements: dict[str, Requirement] = {}
    files = spec_files(paths)
    if not files:
        raise SpecError(
            [Problem(Path(p), None, "", "no requirement files (*.yaml) found") for p in (paths or [project.specs()])]
        )
    requirement_schema = schema()
    first_seen: dict[str, tuple[Path, int]] = {}
    for file in files:
        declared, loaded = _load_file(file, requirement_schema, problems)
        for rid, line in declared:
            if rid in first_seen:
                where = first_seen[rid]
                problems.append(
                    Problem(
                        file, line, "id", f"duplicate requirement id {rid} (first defined at {where[0]}:{where[1]})"
                    )
                )
            else:
                first_seen[rid] = (file, line)
        requirements.update((req.id, req) for req in loaded)
    if problems:
        raise SpecError(problems)
    return requirements


def _load_file(
    file: Path, schema: dict[str, Any], problems: list[Problem]
) -> tuple[list[tuple[str, int]], list[Requirement]]:
    """(id, line) of every requirement declared, and the Requirement objects when the whole file is valid.
    Catalogue checks run on every bound that names a metric, even when the schema found other problems."""
    located = yamlfile.parse(file, problems, meant=_project_specs())
    if located is None:
        return [], []
    data = located.data
    before = len(problems)
    yamlfile.validate(located, schema, problems)
    raw_requirements = data.get("requirements") if isinstance(data, dict) else None
    declared, result = [], []
    for index, raw in enumerate(raw_requirements if isinstance(raw_requirements, list) else []):
        if not isinstance(raw, dict):
            continue
        base = ("requirements", index)
        if isinstance(raw.get("id"), str):
            declared.append((raw["id"], located.where(base + ("id",))[1]))
        bounds = []
        acceptance = raw.get("acceptance")
        for b_index, bound in enumerate(acceptance if isinstance(acceptance, list) else []):
            if not isinstance(bound, dict) or not isinstance(bound.get("metric"), str):
                continue
            where = base + ("acceptance", b_index)
            for key, message in _bound_problems(raw.get("method"), bound, raw.get("cases")):
                problems.append(located.problem(where + (key,), message))
            if len(problems) == before:
                params = {k: bound[k] for k in _BOUND_PARAMS if k in bound}
                bounds.append(
                    Bound(
                        bound["metric"],
                        bound["unit"],
                        bound["source"],
                        bound.get("min"),
                        bound.get("max"),
                        params,
                        data.get("min_tur"),
                    )
                )
        cross_check = _record_cross_check(data, raw.get("method"), bounds)
        if cross_check is not None:
            bounds.append(cross_check)
        units = raw.get("units")
        if isinstance(units, dict) and units.get("judged") == AcrossUnits.SET and units.get("count") == 1:
            problems.append(
                located.problem(base + ("units", "judged"), "a set judged by its mean needs a count of 2 units or more")
            )
        if len(problems) == before:
            result.append(
                Requirement(
                    id=raw["id"],
                    area=data["area"],
                    title=raw["title"],
                    statement=raw["statement"].strip(),
                    hazard=raw["hazard"].strip(),
                    source=raw["source"].strip(),
                    severity=raw["severity"],
                    method=raw["method"],
                    cases=tuple(raw["cases"]),
                    acceptance=tuple(bounds),
                    file=file,
                    line=located.where(base)[1],
                    units=UnitsPlan(units["count"], AcrossUnits(units.get("judged", "each")), units["source"].strip())
                    if units
                    else UnitsPlan(),
                )
            )
    return declared, result if len(problems) == before else []


def _project_specs() -> Iterator[Path]:
    """The project's requirement folder and files, one of which a path that does not exist may have meant."""
    yield project.specs()
    yield from project.specs().glob("*.yaml")


def _record_cross_check(data: dict[str, Any], method: Any, bounds: list[Bound]) -> Bound | None:
    """The file's `record_cross_check` as a bound on record_disagreement, for a requirement whose method computes
    it and that does not bound it itself (the schema has checked the types). It tells delivery the balance never saw
    from an inaccurate one, so the file's min_tur, a ratio for accuracy bounds, is not asked of it."""
    check = data.get("record_cross_check")
    kind = METRICS["record_disagreement"]
    if not isinstance(check, dict) or method not in kind.methods or any(b.metric == kind.name for b in bounds):
        return None
    if not (_is_number(check.get("min")) and _is_number(check.get("max")) and isinstance(check.get("source"), str)):
        return None
    # No test uncertainty ratio: a gross check, judged by the guard band alone (the value ± U inside it).
    return Bound(kind.name, kind.unit, check["source"], check["min"], check["max"], {})


def _bound_problems(method: str | None, bound: dict[str, Any], cases: Any) -> list[tuple[str, str]]:
    """(key, message) of what the metric catalogue refuses in one bound, and a parameter that some case does not
    compute the metric for; the schema has checked the types."""
    kind = METRICS.get(bound["metric"])
    if kind is None:
        return [("metric", f"unknown metric '{bound['metric']}' (known: {', '.join(sorted(METRICS))})")]
    if method is not None and method not in kind.methods:
        return [
            (
                "metric",
                f"metric '{kind.name}' is not computed by method '{method}' (it is by {', '.join(kind.methods)})",
            )
        ]
    if "unit" in bound and bound["unit"] != kind.unit:
        return [("metric", f"metric '{kind.name}' is in '{kind.unit}', not '{bound['unit']}'")]
    given = {k for k in _BOUND_PARAMS if k in bound}
    if given != set(kind.params):
        return [
            (
                "metric",
                f"metric '{kind.name}' takes parameters {sorted(kind.params) or 'none'}, got {sorted(given) or 'none'}",
            )
        ]
    low, high = UNIT_RANGES[kind.unit]
    limits = {k: bound[k] for k in ("min", "max") if _is_number(bound.get(k))}
    outside = [
        (k, f"{k} {v:g} is outside what '{kind.name}' can be: [{low:g}, {high:g}] {kind.unit}")
        for k, v in limits.items()
        if not low <= v <= high
    ]
    if outside:
        return outside
    if len(limits) == 2 and limits["min"] > limits["max"]:
        return [("min", f"min {limits['min']:g} is above max {limits['max']:g}")]
    return _uncomputed(kind, bound, cases)


def _uncomputed(kind, bound: dict[str, Any], cases: Any) -> list[tuple[str, str]]:
    """A bound parameter that a case does not list among the values it computes the metric for: that case's test
    could only end in an error, after all its rig time (a case lacking the key is the schema's to report)."""
    for param, key in kind.from_cases:
        value = bound[param]
        for number, case in enumerate(cases if isinstance(cases, list) else [], 1):
            if not isinstance(case, dict) or key not in case or not _is_number(value):
                continue
            computed = case[key] if isinstance(case[key], list) else [case[key]]
            if value not in computed:
                return [
                    (
                        param,
                        f"{param} {value:g}: case {number} computes '{kind.name}' for {key} {computed} only, "
                        "so no test could judge this bound",
                    )
                ]
    return []


def _is_number(value: Any) -> bool:
    """A finite number; anything else in a bound is the schema's to report."""
    return yamlfile.finite_number(value)
