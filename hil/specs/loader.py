"""Load requirement files: YAML → JSON-Schema validation → catalogue checks → Requirement objects.

Every problem is reported with its file, line and key, all at once, so a spec author fixes a file in one pass.
"""

import json
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from hil import yamlfile
from hil.specs.metrics import METRICS
from hil.yamlfile import Problem, YamlFileError
from hil.specs.model import Bound, Requirement

DEFAULT_SPEC_DIR = Path("specs")
_BOUND_PARAMS = ("window_h", "window_min", "band_pct")


class SpecError(YamlFileError):
    """Requirement files that cannot be used; `problems` lists every one found."""


def schema() -> dict[str, Any]:
    return json.loads(resources.files("hil.specs").joinpath("requirement.schema.json").read_text())


def spec_files(paths: Iterable[Path] | None = None) -> list[Path]:
    """Requirement files named, or found in the directories named (default `specs/`)."""
    found: list[Path] = []
    for path in paths or [DEFAULT_SPEC_DIR]:
        path = Path(path)
        found.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return found


def load_requirements(paths: Iterable[Path] | None = None) -> dict[str, Requirement]:
    """All requirements of the files, by id. Raises SpecError listing every problem of every file."""
    problems: list[Problem] = []
    requirements: dict[str, Requirement] = {}
    files = spec_files(paths)
    if not files:
        raise SpecError([Problem(Path(p), 0, "", "no requirement files (*.yaml) found") for p in (paths or [DEFAULT_SPEC_DIR])])
    requirement_schema = schema()
    first_seen: dict[str, tuple[Path, int]] = {}
    for file in files:
        declared, loaded = _load_file(file, requirement_schema, problems)
        for rid, line in declared:
            if rid in first_seen:
                where = first_seen[rid]
                problems.append(Problem(file, line, "id", f"duplicate requirement id {rid} (first defined at {where[0]}:{where[1]})"))
            else:
                first_seen[rid] = (file, line)
        requirements.update((req.id, req) for req in loaded)
    if problems:
        raise SpecError(problems)
    return requirements


def _load_file(file: Path, schema: dict[str, Any], problems: list[Problem]) -> tuple[list[tuple[str, int]], list[Requirement]]:
    """(id, line) of every requirement declared, and the Requirement objects when the whole file is valid.
    Catalogue checks run on every bound that names a metric, even when the schema found other problems."""
    parsed = yamlfile.parse(file, problems)
    if parsed is None:
        return [], []
    data, line_of = parsed
    before = len(problems)
    yamlfile.validate(file, data, line_of, schema, problems)
    raw_requirements = data.get("requirements") if isinstance(data, dict) else None
    declared, result = [], []
    for index, raw in enumerate(raw_requirements if isinstance(raw_requirements, list) else []):
        if not isinstance(raw, dict):
            continue
        base = ("requirements", index)
        if isinstance(raw.get("id"), str):
            declared.append((raw["id"], line_of(base + ("id",))))
        bounds = []
        for b_index, bound in enumerate(raw.get("acceptance") if isinstance(raw.get("acceptance"), list) else []):
            if not isinstance(bound, dict) or not isinstance(bound.get("metric"), str):
                continue
            where = base + ("acceptance", b_index)
            message = _bound_problem(raw.get("method"), bound)
            if message:
                problems.append(Problem(file, line_of(where + ("metric",)), ".".join(map(str, where)), message))
            elif len(problems) == before:
                params = {k: bound[k] for k in _BOUND_PARAMS if k in bound}
                bounds.append(Bound(bound["metric"], bound["unit"], bound["source"], bound.get("min"), bound.get("max"), params,
                                    data.get("min_tur")))
        if len(problems) == before:
            result.append(Requirement(
                id=raw["id"], area=data["area"], title=raw["title"], statement=raw["statement"].strip(),
                hazard=raw["hazard"].strip(), source=raw["source"].strip(), severity=raw["severity"],
                method=raw["method"], cases=tuple(raw["cases"]), acceptance=tuple(bounds),
                file=file, line=line_of(base)))
    return declared, result if len(problems) == before else []


def _bound_problem(method: str, bound: dict[str, Any]) -> str | None:
    kind = METRICS.get(bound["metric"])
    if kind is None:
        return f"unknown metric '{bound['metric']}' (known: {', '.join(sorted(METRICS))})"
    if method is not None and method not in kind.methods:
        return f"metric '{kind.name}' is not computed by method '{method}' (it is by {', '.join(kind.methods)})"
    if "unit" in bound and bound["unit"] != kind.unit:
        return f"metric '{kind.name}' is in '{kind.unit}', not '{bound['unit']}'"
    given = {k for k in _BOUND_PARAMS if k in bound}
    if given != set(kind.params):
        return f"metric '{kind.name}' takes parameters {sorted(kind.params) or 'none'}, got {sorted(given) or 'none'}"
    if bound.get("min") is not None and bound.get("max") is not None and bound["min"] > bound["max"]:
        return f"min {bound['min']} is above max {bound['max']}"
    return None
