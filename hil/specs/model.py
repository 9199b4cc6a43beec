"""Requirement objects as the rest of the suite sees them: plain, immutable, with the file they came from."""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hil.analysis.metric import measurement_name
from hil.specs.claims import Claim
from hil.specs.methods import Case


def limits_text(low: float | None, high: float | None, unit: str) -> str:
    """A bound as an auditor reads it: `[0.65, 1.55] U`, `≥ 80 %`, `≤ 3 U`, or `reported` without one."""
    if low is not None and high is not None:
        return f"[{low:g}, {high:g}] {unit}"
    if low is not None:
        return f"≥ {low:g} {unit}"
    if high is not None:
        return f"≤ {high:g} {unit}"
    return "reported"


class OriginKind(StrEnum):
    """Where a bound's numbers come from."""

    CLAIM = "claim"  # the labelling of the device under test (its claims file)
    STANDARD = "standard"  # a clause of a standard, cited
    REGULATION = "regulation"  # a regulation or a regulator's guidance, cited
    JUDGEMENT = "judgement"  # the project's stated risk judgement


@dataclass(frozen=True)
class Bound:
    metric: str
    unit: str
    source: str
    min: float | None = None
    max: float | None = None
    params: dict[str, float] = field(default_factory=dict)
    min_tur: float | None = None  # from the requirement file: the test uncertainty ratio a rig must reach
    origin: OriginKind = OriginKind.JUDGEMENT
    claims: tuple[Claim, ...] = ()  # the device's claims its limits are

    @property
    def name(self) -> str:
        return measurement_name(self.metric, self.params)

    def describe(self) -> str:
        return limits_text(self.min, self.max, self.unit)

    def origin_text(self) -> str:
        """Where the limits come from, as the report and the traceability matrix say it."""
        if self.origin is OriginKind.CLAIM:
            return "claim of the device under test: " + "; ".join(f"{c.describe()} ({c.source})" for c in self.claims)
        return f"{self.origin}: {self.source}"


class AcrossUnits(StrEnum):
    """How a requirement verified on several pump units is judged (`hil verify --places`)."""

    EACH = "each"  # every unit passes its own test
    SET = "set"  # per bound, the mean across units with its expanded uncertainty lies inside the bound


@dataclass(frozen=True)
class UnitsPlan:
    """How many pump units a requirement needs and how they are judged together; one, by itself, by default."""

    count: int = 1
    judged: AcrossUnits = AcrossUnits.EACH
    source: str = ""

    def describe(self) -> str:
        how = "each unit judged" if self.judged is AcrossUnits.EACH else "the set judged by its mean"
        return f"{self.count} unit{'s' if self.count != 1 else ''}, {how}"


@dataclass(frozen=True)
class Requirement:
    id: str
    area: str
    title: str
    statement: str
    hazard: str
    source: str
    severity: str
    method: str
    cases: tuple[Case, ...]
    acceptance: tuple[Bound, ...]
    file: Path
    line: int
    units: UnitsPlan = UnitsPlan()
    device: str = ""  # the pump model whose claims the numbers come from
    claims_used: tuple[str, ...] = ()  # every claim the bounds, the cases and the function take
    not_applicable: str | None = None  # why the device's claims make the requirement not apply to it
    unclaimed: tuple[str, ...] = ()  # bounds not judged: the device does not make the claims they need

    @property
    def case(self) -> Case:
        """The single case of a one-case requirement (the common shape)."""
        if len(self.cases) != 1:
            raise ValueError(f"{self.id} has {len(self.cases)} cases; iterate over .cases instead")
        return self.cases[0]

    def as_text(self) -> str:
        bounds = "\n".join(f"  - {b.name}: {b.describe()}  [{b.origin_text()}]" for b in self.acceptance)
        units = f"Units: {self.units.describe()}  [{self.units.source}]\n" if self.units.source else ""
        claims = f"Claims of {self.device}: {', '.join(self.claims_used)}\n" if self.claims_used else ""
        applies = f"NOT APPLICABLE: {self.not_applicable}\n" if self.not_applicable else ""
        applies += "".join(f"  - {text}\n" for text in self.unclaimed)
        cases = [_as_written(case.given()) for case in self.cases]
        return (
            f"{self.id}: {self.title}\n\n{self.statement}\n\nHazard: {self.hazard}\nSource: {self.source}\n"
            f"Severity: {self.severity}\nMethod: {self.method}\nCases: {cases}\n"
            f"Acceptance:\n{bounds}\n"
            f"{units}{claims}{applies}Defined in {self.file}:{self.line}\n"
        )


def _as_written(value: Any) -> Any:
    """A case's values as a requirement file writes them: a whole number without its ".0" (the models hold every
    number of a float parameter as a float)."""
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
