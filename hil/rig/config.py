"""Rig files (fixtures/rigs/*.yaml): validated, located errors, and a hash for provenance."""

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hil import yamlfile
from hil.yamlfile import Problem, YamlFileError

DEFAULT_RIG = Path("fixtures/rigs/emulator.yaml")


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
        return self.data["clock"] == "sim"

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name) or {}

    @property
    def concentration_U_per_mL(self) -> float:
        return self.section("insulin").get("concentration_U_per_mL", 100.0)


def load_rig(path: Path | str | None = None) -> RigConfig:
    """Load, merge (`extends:`) and validate a rig file; RigConfigError lists every problem."""
    path = Path(path or DEFAULT_RIG)
    problems: list[Problem] = []
    merged = _merged(path, problems, seen=())
    if merged is None:
        raise RigConfigError(problems)
    data, line_of = merged
    schema = json.loads(resources.files("hil.rig").joinpath("rig.schema.json").read_text())
    if not yamlfile.validate(path, data, line_of, schema, problems):
        raise RigConfigError(problems)
    if data["clock"] == "sim" and "emulator" not in data:
        raise RigConfigError([Problem(path, line_of(("clock",)), "clock", "clock 'sim' needs an 'emulator:' section")])
    if data["clock"] == "sim":
        from hil.emulator.config import EmulatorConfig  # validated here so a typo fails before any process starts

        try:
            EmulatorConfig.from_rig(data)
        except ValueError as exc:
            raise RigConfigError([Problem(path, line_of(("emulator",)), "emulator", str(exc))]) from None
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return RigConfig(path, data, digest)


def _merged(path: Path, problems: list[Problem], seen: tuple) -> tuple[dict, yamlfile.LineOf] | None:
    """The file's mapping laid over the file it `extends:` (relative to it), recursively."""
    if path.resolve() in seen:
        problems.append(Problem(path, 1, "extends", "rig files extend each other in a cycle"))
        return None
    parsed = yamlfile.parse(path, problems)
    if parsed is None:
        return None
    data, line_of = parsed
    if not isinstance(data, dict):
        problems.append(Problem(path, 1, "", "a rig file must be a mapping"))
        return None
    parent = data.pop("extends", None)
    if parent is None:
        return data, line_of
    if not isinstance(parent, str):
        problems.append(Problem(path, line_of(("extends",)), "extends", "extends: names a rig file path"))
        return None
    base = _merged(path.parent / parent, problems, seen + (path.resolve(),))
    if base is None:
        return None
    return _deep_merge(base[0], data), line_of


def _deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
