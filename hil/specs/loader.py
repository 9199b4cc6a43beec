"""Load requirement files: YAML → JSON-Schema validation → catalogue checks → Requirement objects.

Every problem is reported with its file, line and key, all at once, so a spec author fixes a file in one pass.
"""

import copy
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from hil import project, yamlfile
from hil.analysis.metric import measurement_name
from hil.specs.claims import Claim, Claims, ClaimsError, is_reference, load_claims, references
from hil.specs.methods import METHODS, Case
from hil.specs.metrics import METRICS, UNIT_RANGES
from hil.specs.model import AcrossUnits, Bound, OriginKind, Requirement, UnitsPlan
from hil.yamlfile import KeyPath, Located, Problem, YamlFileError

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


def load_requirements(
    paths: Iterable[Path] | None = None, claims: Claims | Path | None = None
) -> dict[str, Requirement]:
    """All requirements of the files, by id, their numbers taken from the device's claims (a claims file; default:
    the reference pump's). Raises SpecError listing every problem of every file, the claims file's included."""
    if not isinstance(claims, Claims):
        try:
            claims = load_claims(claims)
        except ClaimsError as exc:
            raise SpecError(exc.problems) from None
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
        declared, loaded = _load_file(file, requirement_schema, problems, claims)
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
    file: Path, schema: dict[str, Any], problems: list[Problem], claims: Claims
) -> tuple[list[tuple[str, int]], list[Requirement]]:
    """(id, line) of every requirement declared, and the Requirement objects when the whole file is valid.
    Catalogue checks run on every bound that names a metric, even when the schema found other problems."""
    located = yamlfile.parse(file, problems, meant=_project_specs())
    if located is None:
        return [], []
    data = located.data
    before = len(problems)
    taken = _take_claims(located, claims, problems, set(schema["$defs"]["requirement"]["properties"]))
    yamlfile.validate(located, schema, problems, ignored=taken.unresolved, notes=taken.notes)
    raw_requirements = data.get("requirements") if isinstance(data, dict) else None
    declared, result = [], []
    for index, raw in enumerate(raw_requirements if isinstance(raw_requirements, list) else []):
        if not isinstance(raw, dict):
            continue
        base = ("requirements", index)
        if isinstance(raw.get("id"), str):
            declared.append((raw["id"], located.where(base + ("id",))[1]))
        acceptance = raw.get("acceptance")
        bounds, unclaimed = _bounds(located, taken, index, problems, before)
        for path, message in _wait_problems(raw.get("cases"), bounds):
            problems.append(located.problem(base + path, message))
        written = [b.get("metric") for b in acceptance if isinstance(b, dict)] if isinstance(acceptance, list) else []
        cross_check = _record_cross_check(data, raw.get("method"), written)
        if cross_check is not None:
            bounds.append(cross_check)
        units = raw.get("units")
        if isinstance(units, dict) and units.get("judged") == AcrossUnits.SET and units.get("count") == 1:
            problems.append(
                located.problem(base + ("units", "judged"), "a set judged by its mean needs a count of 2 units or more")
            )
        if len(problems) == before:
            result.append(_requirement(located, file, index, bounds, unclaimed, taken, claims))
    return declared, result if len(problems) == before else []


def _bounds(
    located: Located, taken: "_TakenClaims", index: int, problems: list[Problem], before: int
) -> tuple[list[Bound], list[str]]:
    """Requirement `index`'s bounds (while its file has no problem yet: `before` problems were found before it)
    and what it leaves unjudged for want of a claim; each bound's problems added."""
    data = located.data
    raw = data["requirements"][index]
    acceptance = raw.get("acceptance")
    bounds, unclaimed = [], []
    for b_index, bound in enumerate(acceptance if isinstance(acceptance, list) else []):
        if not isinstance(bound, dict) or not isinstance(bound.get("metric"), str):
            continue
        where = ("requirements", index, "acceptance", b_index)
        for key, message in _bound_problems(raw.get("method"), bound, raw.get("cases")):
            problems.append(located.problem(where + (key,), message))
        limits = taken.limits.get((index, b_index), {})
        for key, message in _origin_problems(bound, limits):
            problems.append(located.problem(where + (key,), message))
        if (index, b_index) in taken.unclaimed:
            unclaimed.append(_unclaimed_text(bound, taken.unclaimed[index, b_index]))
        elif len(problems) == before:
            params = {k: bound[k] for k in _BOUND_PARAMS if k in bound}
            bounds.append(
                Bound(
                    bound["metric"],
                    bound["unit"],
                    bound.get("source", "").strip(),
                    _limit(bound, "min"),
                    _limit(bound, "max"),
                    params,
                    data.get("min_tur"),
                    OriginKind(bound["origin"]) if "origin" in bound else OriginKind.CLAIM,
                    tuple(limits.values()),
                )
            )
    return bounds, unclaimed


def _requirement(
    located: Located,
    file: Path,
    index: int,
    bounds: list[Bound],
    unclaimed: list[str],
    taken: "_TakenClaims",
    claims: Claims,
) -> Requirement:
    """Requirement `index` of a valid file."""
    data = located.data
    raw = data["requirements"][index]
    units = raw.get("units")
    return Requirement(
        id=raw["id"],
        area=data["area"],
        title=raw["title"],
        statement=raw["statement"].strip(),
        hazard=raw["hazard"].strip(),
        source=raw["source"].strip(),
        severity=raw["severity"],
        method=raw["method"],
        cases=tuple(_case(raw["method"], case, taken.not_applicable.get(index)) for case in raw["cases"]),
        acceptance=tuple(bounds),
        file=file,
        line=located.where(("requirements", index))[1],
        units=UnitsPlan(units["count"], AcrossUnits(units.get("judged", "each")), units["source"].strip())
        if units
        else UnitsPlan(),
        device=claims.device,
        claims_used=tuple(taken.used.get(index, ())),
        not_applicable=taken.not_applicable.get(index),
        unclaimed=tuple(unclaimed),
    )


def _case(method: str, raw: dict[str, Any], not_applicable: str | None) -> Case:
    """A case typed by its method's model. A requirement that does not apply to the device keeps its cases as written,
    with the references to claims the device does not make (it is never run)."""
    model = METHODS[method]
    return model.model_construct(**raw) if not_applicable else model.model_validate(raw)


# The unit a case parameter is in, by the end of its name; a claim put there must be in it.
_CASE_UNITS = (
    ("_U_per_h", "U/h"),
    ("_U_per_min", "U/min"),
    ("_mg_dl", "mg/dL"),
    ("_kPa", "kPa"),
    ("_pct", "%"),
    ("_mg_dl_per_U", "mg/dL/U"),
    ("_U", "U"),
    ("_min", "min"),
    ("_h", "h"),
    ("_s", "s"),
)


@dataclass
class _TakenClaims:
    """What a requirement file took from the device's claims: the paths left unresolved (a claim unknown or not
    made), a note per resolved path for the schema's messages, and per requirement (by index) the claims used, the
    claims of each bound's limits, the bounds on claims the device does not make, and why it does not apply."""

    unresolved: set[KeyPath] = field(default_factory=set)
    notes: dict[KeyPath, str] = field(default_factory=dict)
    used: dict[int, list[str]] = field(default_factory=dict)
    limits: dict[tuple[int, int], dict[str, Claim]] = field(default_factory=dict)
    unclaimed: dict[tuple[int, int], list[Claim]] = field(default_factory=dict)  # bounds on claims not made
    not_applicable: dict[int, str] = field(default_factory=dict)


def _take_claims(located: Located, claims: Claims, problems: list[Problem], keys: set[str]) -> _TakenClaims:
    """Put the device's figures in place of every `{claim: name}` of the file's requirements (in `located.data`),
    and check each: known, a figure (not a function) in the unit of where it goes; a requirement's `function` a
    function the device has. A claim the device does not make leaves the reference, and the requirement not
    applicable."""
    taken = _TakenClaims()
    raw_requirements = located.data.get("requirements") if isinstance(located.data, dict) else None
    for index, raw in enumerate(raw_requirements if isinstance(raw_requirements, list) else []):
        if not isinstance(raw, dict):
            continue
        raw = located.data["requirements"][index] = copy.deepcopy(raw)  # sharing a YAML anchor, each its own
        base = ("requirements", index)
        used, missing = taken.used.setdefault(index, []), []
        function = raw.get("function")
        if isinstance(function, str):
            claim = claims.get(function)
            used.append(function)
            if claim is None:
                problems.append(located.problem(base + ("function",), claims.unknown(function)))
            elif claim.not_claimed is not None:
                missing.append(claim)
            elif not claim.function:
                message = f"claim '{function}' is a figure, not a function"
                problems.append(located.problem(base + ("function",), message))
        for path, name in references(raw, base):
            claim, where = claims.get(name), path[len(base) :]
            used.append(name)
            if claim is None:
                problems.append(located.problem(path, claims.unknown(name)))
            elif claim.not_claimed is not None and where[0] == "acceptance" and len(where) == 3:
                taken.unclaimed.setdefault((index, where[1]), []).append(claim)  # that bound alone goes
            elif claim.not_claimed is not None:
                missing.append(claim)
            elif claim.function:
                problems.append(located.problem(path, f"claim '{name}' is a function, not a figure"))
            elif where[0] not in keys:  # under a key the schema will call unknown: told there
                pass
            elif (unit := _unit_at(raw, where)) is None:
                message = (
                    f"claim '{name}' cannot go here: a claim is a bound's min or max, or a case parameter whose name "
                    "ends in its unit (_U, _U_per_h, _min, _mg_dl ...), so that its unit is checked"
                )
                problems.append(located.problem(path, message))
            elif unit != claim.unit:
                problems.append(located.problem(path, f"claim '{name}' is in '{claim.unit}', not '{unit}' as here"))
            else:
                _put(located.data, path, claim.value)
                taken.notes[path] = f" (claim '{name}' of {claims.device})"
                if where[0] == "acceptance" and len(where) == 3:
                    taken.limits.setdefault((index, where[1]), {})[str(where[2])] = claim
                continue
            taken.unresolved.add(path)
        taken.used[index] = list(dict.fromkeys(used))
        acceptance = raw.get("acceptance")
        bounds = len(acceptance) if isinstance(acceptance, list) else 0
        if bounds and all((index, b) in taken.unclaimed for b in range(bounds)):
            missing.extend(c for b in range(bounds) for c in taken.unclaimed[index, b])
        if missing:
            taken.not_applicable[index] = f"{claims.device} does not claim " + "; ".join(
                f"{c.name} ({c.not_claimed})" for c in dict.fromkeys(missing)
            )
    return taken


def _unclaimed_text(bound: dict[str, Any], claims: list[Claim]) -> str:
    """A bound left out because the device does not make the claim it needs, as the report says it."""
    params = {k: bound[k] for k in _BOUND_PARAMS if k in bound}
    why = "; ".join(f"{c.name}: {c.not_claimed}" for c in claims)
    return f"{measurement_name(bound['metric'], params)}: not judged, the device does not claim it ({why})"


def _unit_at(requirement: dict[str, Any], where: KeyPath) -> str | None:
    """The unit of the place a claim goes to: a bound's limit is in the bound's unit, a case parameter in the unit
    its name ends with; None where neither says."""
    if len(where) == 3 and where[0] == "acceptance" and where[2] in ("min", "max"):
        bound = requirement["acceptance"][where[1]]
        return bound.get("unit") if isinstance(bound.get("unit"), str) else None
    if len(where) == 3 and where[0] == "cases":
        return next((unit for end, unit in _CASE_UNITS if str(where[2]).endswith(end)), None)
    return None


def _put(data: Any, path: KeyPath, value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def _project_specs() -> Iterator[Path]:
    """The project's requirement folder and files, one of which a path that does not exist may have meant."""
    yield project.specs()
    yield from project.specs().glob("*.yaml")


def _record_cross_check(data: dict[str, Any], method: Any, written: list[Any]) -> Bound | None:
    """The file's `record_cross_check` as a bound on record_disagreement, for a requirement whose method computes
    it and that does not bound it itself (`written`: the metrics of its acceptance as written, a bound left out for
    want of a claim included: the gross check never stands in for a tighter bound). It tells delivery the balance
    never saw from an inaccurate one, so the file's min_tur, a ratio for accuracy bounds, is not asked of it (the
    schema has checked the types)."""
    check = data.get("record_cross_check")
    kind = METRICS["record_disagreement"]
    if not isinstance(check, dict) or method not in kind.methods or kind.name in written:
        return None
    if not (_is_number(check.get("min")) and _is_number(check.get("max")) and isinstance(check.get("source"), str)):
        return None
    if check.get("origin") not in list(OriginKind):
        return None
    # No test uncertainty ratio: a gross check, judged by the guard band alone (the value ± U inside it).
    origin = OriginKind(check["origin"])
    return Bound(kind.name, kind.unit, check["source"], check["min"], check["max"], {}, origin=origin)


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
    low = -high if kind.signed else low
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


def _wait_problems(cases: Any, bounds: list[Bound]) -> list[tuple[KeyPath, str]]:
    """(key path, message) of a case that stops waiting for an alarm before the time its requirement allows (a
    device's claimed time longer than the wait): a pump alarming within its claim would fail."""
    allowed = [b for b in bounds if b.metric == "time_to_alarm" and b.max is not None]
    found: list[tuple[KeyPath, str]] = []
    for number, case in enumerate(cases if isinstance(cases, list) else []):
        wait = case.get("alarm_timeout_h") if isinstance(case, dict) else None
        minutes = wait * 60.0 if isinstance(wait, int | float) and _is_number(wait) else math.inf
        for bound in allowed:
            if bound.max is not None and minutes < bound.max:
                claim = f" ({bound.origin_text()})" if bound.claims else ""
                found.append(
                    (
                        ("cases", number, "alarm_timeout_h"),
                        f"waits {minutes:g} min for an alarm time_to_alarm allows up to {bound.max:g} min{claim}: "
                        "a pump alarming within it would fail; wait longer",
                    )
                )
    return found


def _limit(bound: dict[str, Any], key: str) -> float | None:
    """A bound's limit; None where it has none, or where it is a claim the device does not make."""
    value = bound.get(key)
    return value if _is_number(value) else None


def _origin_problems(bound: dict[str, Any], claims: dict[str, Claim]) -> list[tuple[str, str]]:
    """(key, message) of a bound whose origin is not told: a limit written as a number needs its origin (standard,
    regulation or judgement) and a source saying it; limits that are all the device's claims have theirs (a claim
    unknown or not made is told elsewhere)."""
    literal = [key for key in ("min", "max") if key not in claims and _is_number(bound.get(key))]
    claimed = [key for key in ("min", "max") if key in claims or is_reference(bound.get(key))]
    if literal and claimed:
        return [
            (
                literal[0],
                "a bound's limits are both the device's claims or both numbers with their origin, not one of each",
            )
        ]
    if literal and "origin" not in bound:
        return [
            (
                literal[0],
                "a limit written as a number needs its origin: 'origin: standard', 'regulation' or 'judgement' "
                "with a source that says it, or the device's claim ({claim: name})",
            )
        ]
    if literal and not str(bound.get("source", "")).strip():
        return [("origin", f"origin {bound['origin']} needs a source that says where the number comes from")]
    if not literal and "origin" in bound:
        return [("origin", "every limit is the device's claim: its origin is the claim, not " + str(bound["origin"]))]
    return []


def _is_number(value: Any) -> bool:
    """A finite number; anything else in a bound is the schema's to report."""
    return yamlfile.finite_number(value)
