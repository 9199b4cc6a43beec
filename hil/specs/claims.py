"""A pump model's claims (claims/*.yaml): the figures its labelling states and the functions it has, each with where
the labelling states it. Requirements bound hazards; the numbers of their bounds and cases come from the claims of
the device under test by name (`{claim: name}`), beside bounds from a standard, a regulation or the project's stated
judgement. A pump maker writes the claims file of their model and runs the same requirements (docs/requirements.md).

A claim the model does not make (`not_claimed: why`) makes every requirement that needs it not applicable to that
model: reported as such, never judged and never passed.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hil import did_you_mean, project, yamlfile
from hil.yamlfile import Located, Problem, YamlFileError


class ClaimsError(YamlFileError):
    """A claims file that cannot be used."""


@dataclass(frozen=True)
class Claim:
    name: str
    source: str
    value: float | None = None  # a figure, in `unit`
    unit: str = ""
    function: bool = False  # a function the model has
    not_claimed: str | None = None  # why the model makes no such claim

    def describe(self) -> str:
        if self.not_claimed is not None:
            return f"{self.name}: not claimed ({self.not_claimed})"
        if self.function:
            return f"{self.name}: provided"
        return f"{self.name} = {self.value:g} {self.unit}"


@dataclass(frozen=True)
class Claims:
    """One pump model's claims, from one file."""

    device: str
    labelling: str
    file: Path
    sha256: str  # of the file's bytes, as the run records it
    claims: dict[str, Claim]
    content: bytes = b""  # the bytes read and hashed, which the run keeps

    def get(self, name: str) -> Claim | None:
        return self.claims.get(name)

    def unknown(self, name: str) -> str:
        """What to say of a claim name this file does not have."""
        meant = did_you_mean.close_match(name, self.claims)
        hint = f"; did you mean '{meant}'?" if meant else ""
        return f"no claim '{name}' in the claims of {self.device} ({self.file}){hint}"


def schema() -> dict[str, Any]:
    return json.loads(resources.files("hil.specs").joinpath("claims.schema.json").read_text())


MAX_EXTENDS = 8  # claims files extending each other


def load_claims(path: Path | None = None) -> Claims:
    """A claims file, validated (default: the project's claims of the reference pump); ClaimsError lists every
    problem, located. A file may `extends:` another (a path relative to it): its claims replace the other's of the
    same name. The run keeps the bytes it was judged against: the file's own, or, for a file that extends another,
    the effective claims written out whole (so the run's copy stands alone)."""
    path = Path(path) if path is not None else project.default_claims()
    problems: list[Problem] = []
    located = _merged(path, problems, ())
    if located is None or not yamlfile.validate(located, schema(), problems):
        raise ClaimsError(problems)
    data = located.data
    claims = {
        name: Claim(
            name,
            str(raw.get("source", "")).strip(),
            raw.get("value"),
            raw.get("unit", ""),
            bool(raw.get("function", False)),
            raw["not_claimed"].strip() if "not_claimed" in raw else None,
        )
        for name, raw in data["claims"].items()
    }
    content = path.read_bytes()
    if any(file != path for file, _ in located.places.values()):  # an `extends:` resolved: keys of other files
        content = _effective(path, data)
    digest = hashlib.sha256(content).hexdigest()
    return Claims(data["device"].strip(), data["labelling"].strip(), path, digest, claims, content)


def _effective(path: Path, data: dict) -> bytes:
    """The claims a file that extends another comes to, as one claims file of its own."""
    head = f"# The effective claims of {path} (its `extends:` resolved), as the run was judged against them.\n"
    return (head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)).encode()


def _merged(path: Path, problems: list[Problem], chain: tuple[Path, ...]) -> Located | None:
    """The file's data laid over the file it extends, recursively; each key keeps the file and line it is at."""
    located = yamlfile.parse(path, problems, meant=project.claims().glob("*.yaml"))
    if located is None or not isinstance(located.data, dict) or "extends" not in located.data:
        return located
    parent = located.data.pop("extends")
    if not isinstance(parent, str) or not parent:
        problems.append(located.problem(("extends",), "extends: names a claims file (a path relative to this one)"))
        return None
    parent_path = Path(os.path.normpath(path.parent / parent))
    if len(chain) >= MAX_EXTENDS or any(parent_path.resolve() == link.resolve() for link in (*chain, path)):
        problems.append(
            located.problem(("extends",), f"claims files extend each other in a cycle or deeper than {MAX_EXTENDS}")
        )
        return None
    if not parent_path.is_file():
        problems.append(located.problem(("extends",), f"no claims file {parent_path}"))
        return None
    base = _merged(parent_path, problems, (*chain, path))
    if base is None or not isinstance(base.data, dict):
        return None
    own, inherited = located.data.get("claims"), base.data.get("claims")
    merged = {**base.data, **located.data}
    if isinstance(own, dict) and isinstance(inherited, dict):
        merged["claims"] = {**inherited, **own}
    return Located(merged, {**base.places, **located.places})


KeyPath = yamlfile.KeyPath


def is_reference(value: Any) -> bool:
    """`{claim: name}`: a number a requirement file takes from the device's claims."""
    return isinstance(value, dict) and set(value) == {"claim"} and isinstance(value["claim"], str)


def references(data: Any, path: KeyPath = ()) -> list[tuple[KeyPath, str]]:
    """(key path, claim name) of every claim reference in a requirement's data, in file order."""
    if is_reference(data):
        return [(path, data["claim"])]
    if isinstance(data, dict):
        return [found for key, value in data.items() for found in references(value, path + (key,))]
    if isinstance(data, list):
        return [found for index, value in enumerate(data) for found in references(value, path + (index,))]
    return []
