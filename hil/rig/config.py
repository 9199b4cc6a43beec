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
    sha256: str

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
    path = Path(path or DEFAULT_RIG)
    problems: list[Problem] = []
    schema = json.loads(resources.files("hil.rig").joinpath("rig.schema.json").read_text())
    loaded = yamlfile.load(path, schema, problems)
    if loaded is None:
        raise RigConfigError(problems)
    data, line_of = loaded
    if data["clock"] == "sim" and "emulator" not in data:
        raise RigConfigError([Problem(path, line_of(("clock",)), "clock", "clock 'sim' needs an 'emulator:' section")])
    if data["clock"] == "sim":
        from hil.emulator.config import EmulatorConfig  # validated here so a typo fails before any process starts

        try:
            EmulatorConfig.from_rig(data)
        except ValueError as exc:
            raise RigConfigError([Problem(path, line_of(("emulator",)), "emulator", str(exc))]) from None
    return RigConfig(path, data, hashlib.sha256(path.read_bytes()).hexdigest())
