"""Rig files (fixtures/rigs/*.yaml): merged along `extends:`, validated by hil.rig.model, every problem located
in the file that holds it; and a hash for provenance."""

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from hil import did_you_mean, project, yamlfile
from hil.drivers import registry
from hil.drivers.registry import DriverError
from hil.rig.model import (
    DEVICE_SECTIONS,
    Drivers,
    InfusionSet,
    PumpClock,
    RigFile,
    cross_problems,
    lockstep_problems,
    rig_file_model,
)
from hil.rig.model_keys import keys_at
from hil.yamlfile import Located, Problem, YamlFileError

_KEY_ERRORS = ("missing", "extra_forbidden")  # pydantic's error types of a mapping's keys
MAX_EXTENDS = 8  # a rig file, its parent, its grandparent...
# paths in a rig file (key paths): relative to the file that writes them
FILE_KEYS = (("can", "dbc"), ("emulator", "can_dbc"), ("claims",))


class RigConfigError(YamlFileError):
    """A rig file that cannot be used."""


@dataclass(frozen=True)
class RigConfig:
    path: Path
    data: dict[str, Any]
    sha256: str  # of the effective configuration (after `extends:`), as canonical JSON

    @property
    def rig_id(self) -> str:
        return self.data["rig_id"]

    @property
    def simulated(self) -> bool:
        """Lockstep with the emulator: simulated time passes only when the harness asks."""
        return self.data["clock"] == "sim"

    @property
    def rehearsal(self) -> bool:
        """The emulator running free in real time (scaled): a bench rehearsed, never evidence."""
        return self.data["clock"] == "rehearsal"

    @property
    def emulated(self) -> bool:
        return self.simulated or self.rehearsal

    @property
    def speed(self) -> float:
        """Rig seconds per wall second: the emulator's `speed` in a rehearsal, else 1."""
        return float(self.section("emulator").get("speed", 1.0)) if self.rehearsal else 1.0

    @property
    def claims(self) -> Path:
        """The claims file of the pump under test (`claims:`); an emulated rig's pump is the reference pump."""
        named = self.data.get("claims")
        return claims_file(named) if named else project.default_claims()

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name) or {}

    @property
    def infusion_set(self) -> InfusionSet:
        """The set's prime and the balance's coupling check, with their defaults."""
        return InfusionSet.model_validate(self.section("infusion_set"))

    @property
    def pump_clock(self) -> PumpClock:
        """How closely the pump's clock must follow the rig's, with its defaults."""
        return PumpClock.model_validate(self.section("pump_clock"))

    @property
    def concentration_U_per_mL(self) -> float:
        return self.section("insulin").get("concentration_U_per_mL", 100.0)

    def device(self, path: tuple[str, ...]) -> dict[str, Any] | None:
        """A device section (("pump",), ("actuators", "site_faults"), ...), or None where the rig has none."""
        node: Any = self.data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    def driver_name(self, path: tuple[str, ...]) -> str:
        """The driver name a device section gives; KeyError where the rig has no such section."""
        section = self.device(path)
        if section is None:
            raise KeyError(f"the rig has no {'.'.join(path)} section")
        return section["driver"]

    def driver(self, path: tuple[str, ...]) -> type[registry.DriverClass]:
        """The driver class a device section names (validated when the rig file was loaded)."""
        kind, _ = DEVICE_SECTIONS[path]
        return registry.lookup(self.driver_name(path), kind)

    def drivers(self) -> dict[tuple[str, ...], type[registry.DriverClass]]:
        """Section path → driver class, of every device the rig has."""
        return {path: self.driver(path) for path in DEVICE_SECTIONS if self.device(path) is not None}


def load_rig(path: Path | str | None = None) -> RigConfig:
    """Load, merge (`extends:`) and validate a rig file; RigConfigError lists every problem."""
    path = Path(path) if path else project.default_rig()
    problems: list[Problem] = []
    merged = _merged(path, problems, chain=(), meant=_project_rigs())
    if merged is None:
        raise RigConfigError(problems)
    _relative_to_rig_files(merged)
    problems.extend(validate(merged))
    claims = merged.data.get("claims")
    if isinstance(claims, str) and claims and not claims_file(claims).is_file():
        meant = f" (the models there: {', '.join(sorted(p.stem for p in project.claims().glob('*.yaml')))})"
        problems.append(merged.problem(("claims",), f"no claims file {claims_file(claims)}{meant}"))
    if problems:
        raise RigConfigError(problems)
    digest = hashlib.sha256(json.dumps(merged.data, sort_keys=True).encode()).hexdigest()
    return RigConfig(path, merged.data, digest)


def claims_file(named: str) -> Path:
    """`claims:` of a rig file: a model's name (`omnipod-5`: the project's claims/omnipod-5.yaml, else the
    reference one), or a claims file's path (relative to the rig file that writes it, made so when it was read)."""
    if os.sep in named or named.endswith(".yaml"):
        return Path(named)
    return project.claims() / f"{named}.yaml"


def _project_rigs() -> Iterator[Path]:
    """The project's rig files (read only when a rig file does not exist), one of which it may have meant."""
    yield from project.rigs().rglob("*.yaml")


def _relative_to_rig_files(rig: Located) -> None:
    """A relative file path in a rig file names a file next to that rig file, wherever hil is run from."""
    for path in FILE_KEYS:
        values = rig.data
        for key in path[:-1]:
            values = values.get(key) if isinstance(values, dict) else None
        value = values.get(path[-1]) if isinstance(values, dict) else None
        if path == ("claims",) and isinstance(value, str) and value == Path(value).name and "." not in value:
            continue  # a model's name, looked up in claims/
        if isinstance(value, str) and value and not Path(value).is_absolute():
            values[path[-1]] = os.path.normpath(rig.where(path)[0].parent / value)


def validate(rig: Located) -> list[Problem]:
    """Every problem of a merged rig file: the drivers it names, the models' (types, ranges, unknown and missing
    keys, each driver's own options), then the checks across sections."""
    drivers, problems = _drivers(rig)
    file_model = rig_file_model(drivers)
    try:
        model = file_model.model_validate(rig.data)
    except pydantic.ValidationError as exc:
        errors = exc.errors()
        found = [_located_error(rig.data, err) for err in errors if err["type"] not in _KEY_ERRORS]
        found += _key_problems(rig.data, file_model, [err for err in errors if err["type"] in _KEY_ERRORS])
        located = sorted((rig.problem(path, message) for path, message in found), key=lambda p: (str(p.file), p.line))
        return problems + located
    if problems:
        return problems
    crossed = cross_problems(model) + lockstep_problems(model, drivers)
    return [rig.problem(path, message) for path, message in crossed]


def _drivers(rig: Located) -> tuple[Drivers, list[Problem]]:
    """The driver class each device section names, and a problem for every name that is not an installed driver
    of that kind (those sections are then checked no further)."""
    drivers: Drivers = {}
    problems: list[Problem] = []
    for path, (kind, _) in DEVICE_SECTIONS.items():
        node: Any = rig.data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue  # absent, or not a mapping: the model says so
        name = node.get("driver")
        if not isinstance(name, str):
            problems.append(
                rig.problem(
                    path + (("driver",) if "driver" in node else ()),
                    f"a {kind.label} section names its 'driver'" + ("" if name is None else f", not {name!r}"),
                )
            )
            continue
        try:
            cls = registry.lookup(name, kind)
            rig_file_model({path: {name: cls}})  # the driver's options against the section's own keys
        except DriverError as exc:
            problems.append(rig.problem(path + ("driver",), str(exc)))
            continue
        drivers[path] = {name: cls}
    return drivers, problems


def _key_problems(data: Any, model: type[RigFile], errors: list[ErrorDetails]) -> list[tuple[tuple, str]]:
    """The missing and unknown keys of each mapping, a misspelt required key told once (hil.did_you_mean)."""
    mappings: dict[tuple, tuple[dict, dict]] = {}  # path: (missing, unknown)
    for err in errors:
        *parent, key = err["loc"]
        missing, unknown = mappings.setdefault(_data_path(data, tuple(parent)), ({}, {}))
        (missing if err["type"] == "missing" else unknown)[key] = None
    return [
        problem
        for path, (missing, unknown) in mappings.items()
        for problem in did_you_mean.key_problems(path, unknown, missing, keys_at(model, path))
    ]


def _located_error(data: Any, err: ErrorDetails) -> tuple[tuple, str]:
    """(key path in the data, message) of a pydantic error other than a missing or unknown key."""
    path = _data_path(data, err["loc"])
    value = repr(err["input"])
    return path, f"{err['msg']}, not {value if len(value) <= 60 else value[:57] + '...'}"


def _data_path(data: Any, loc: tuple) -> tuple:
    """The part of pydantic's location that indexes the data (it also names union members and validators)."""
    path = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _merged(
    path: Path, problems: list[Problem], chain: tuple[Located, ...], meant: Iterable[Path] = ()
) -> Located | None:
    """The file's mapping laid over the file it `extends:` (relative to it), recursively; each key keeps the
    file and line it was written at. A file that does not exist is told with the one of `meant` it may have meant."""
    if len(chain) > MAX_EXTENDS:
        problems.append(chain[-1].problem(("extends",), f"more than {MAX_EXTENDS} files extend each other"))
        return None
    if any(path.resolve() == Path(link.where(())[0]).resolve() for link in chain):
        problems.append(chain[-1].problem(("extends",), "rig files extend each other in a cycle"))
        return None
    located = yamlfile.parse(path, problems, meant)
    if located is None:
        return None
    if not isinstance(located.data, dict):
        problems.append(located.problem((), "a rig file must be a mapping"))
        return None
    parent = located.data.pop("extends", None)
    if parent is None:
        return located
    if not isinstance(parent, str) or not parent:
        problems.append(located.problem(("extends",), "extends: names a rig file path"))
        return None
    parent_path = Path(os.path.normpath(path.parent / parent))  # fixtures/rigs/emulator.yaml, not .../defects/../
    if not parent_path.is_file():
        problems.append(located.problem(("extends",), f"no rig file {parent_path}"))
        return None
    base = _merged(parent_path, problems, chain + (located,))
    if base is None:
        return None
    return Located(_deep_merge(base.data, located.data), {**base.places, **located.places})


def _deep_merge(base: dict, override: dict, path: tuple[str, ...] = ()) -> dict:
    """`override`'s keys over `base`'s, mapping by mapping; a device section that names another driver keeps only the
    section's own keys from its parent (a scale's metrology), not the parent driver's options."""
    out = dict(base)
    for key, value in override.items():
        below, where = out.get(key), path + (key,)
        if isinstance(value, dict) and isinstance(below, dict):
            if where in DEVICE_SECTIONS and value.get("driver", below.get("driver")) != below.get("driver"):
                below = {
                    k: v for k, v in below.items() if k in DEVICE_SECTIONS[where][1].model_fields and k != "driver"
                }
            out[key] = _deep_merge(below, value, where)
        else:
            out[key] = value
    return out
