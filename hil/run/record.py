"""The run record (`record.json`) as typed models: what each key holds, the vocabulary of its verdicts, outcomes and
endings. Its JSON Schema, `hil/run/record.schema.json`, is generated from these models (`python -m hil.run.record >
hil/run/record.schema.json`; a unit test keeps the two equal) and published for whoever reads a record: a lab's
results database, an auditor's script, a CI dashboard. `hil evidence verify` checks a run's record against it.

Two shapes share the file: a run on one rig (RunRecord) and a run across labgrid places (PlacesRecord, `kind:
places`), whose tests are its units' records. `record_schema` is the version: a change that a reader of an older
record would misread raises it (SchemaVersion)."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import jsonschema
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from hil.evidence.measurements import Outcome
from hil.evidence.run import SCHEMA_VERSION
from hil.evidence.run_kind import Ending, Evidence
from hil.evidence.verdict import FailureClass, Verdict
from hil.specs.model import AcrossUnits

# The version these models describe: the one the recorder writes (hil.evidence.run), a literal for the models.
SchemaVersion = Literal[3]
if get_args(SchemaVersion)[0] != SCHEMA_VERSION:
    raise RuntimeError(f"the record models describe {get_args(SchemaVersion)[0]}, the recorder writes {SCHEMA_VERSION}")
Timestamp = Annotated[str, Field(description="UTC, ISO 8601 to the second")]
NodeId = Annotated[str, Field(description="the test's pytest node id")]
RequirementIds = Annotated[list[str], Field(description="the requirements the test judges")]


class _Part(BaseModel):
    """A part of the record: no key that the schema does not name."""

    model_config = ConfigDict(extra="forbid")


class GitState(_Part):
    commit: str | None
    dirty: bool | None
    note: str | None = Field(None, description="why commit and dirty are unknown")


class Provenance(_Part):
    suite_version: str
    git: GitState
    python: str
    platform: str
    host: str
    operator: str
    spec_files: dict[str, str] = Field(description="requirement file → SHA-256")
    claims_file: dict[str, str] = Field(description="claims file → SHA-256 (none: empty)")
    lock_files: dict[str, str] = Field(description="lock file → SHA-256")


class DriverUsed(_Part):
    driver: str
    class_: str = Field(alias="class")
    package: str
    version: str


class Labgrid(_Part):
    """The labgrid place a rig was on (hil.rig.lab.Acquisition)."""

    coordinator: str
    place: str
    holder: str
    ports: dict[str, str] = Field(description="resource name → rfc2217:// or socket:// URL")
    acquired_at: Timestamp


class Rig(_Part):
    id: str
    file: str
    sha256: str
    effective_config: dict[str, Any] = Field(description="the rig file as validated, its defaults filled in")
    clock: Literal["sim", "real", "rehearsal"]
    identities: dict[str, dict[str, Any]] = Field(description="device → what it said of itself (model, serial, ...)")
    drivers: dict[str, DriverUsed] | None = None
    labgrid: Labgrid | None = None


class Rehearsal(_Part):
    speed: float
    note: str


class ClaimsUsed(_Part):
    device: str
    file: str
    copy_: str = Field(alias="copy", description="the run folder's copy of the claims file")


class RequirementEntry(_Part):
    file: str
    copy_: str = Field(alias="copy", description="the run folder's copy of the requirement file")
    line: int
    title: str
    area: str
    severity: str
    source: str
    claims_used: list[str]
    origins: dict[str, str] = Field(description="bound → where its number comes from")
    unclaimed: list[str]
    not_applicable: str | None


class Phase(_Part):
    outcome: Literal["passed", "failed", "skipped"]
    duration_s: float
    message: str | None


class MeasurementEntry(_Part):
    name: str
    value: float | None = Field(description="None: not finite")
    unit: str
    low: float | None
    high: float | None
    uncertainty: float | None = Field(description="expanded, k = 2, in unit; None: not finite")
    source: str
    outcome: Outcome
    tur: float | None
    min_tur: float | None


class TestEntry(_Part):
    requirements: RequirementIds
    verdict: Verdict | None = Field(description="None: not judged (yet)")
    outcome: Literal["passed", "failed", "error", "interrupted", "skipped"] | None
    failure_class: FailureClass | None
    reason: str | None
    phases: dict[Literal["setup", "call", "teardown"], Phase]
    rig_time_s: float | None = None
    measurements: list[MeasurementEntry] | None = None
    files: list[str] | None = Field(None, description="the test's evidence, relative to the run folder")
    files_sha256: dict[str, str] | None = None
    folder: str | None = Field(None, description="a previous attempt's folder under tests/")
    previous_attempts: list["TestEntry"] | None = Field(None, description="what a resumed run set aside")


class SafetyAction(_Part):
    test: NodeId | None
    reason: str
    ok: bool
    detail: str
    time: Timestamp


class Interruption(_Part):
    signal: str | None = Field(description="None: the harness ended without saying which")
    test: NodeId | None


class Session(_Part):
    started: Timestamp
    finished: Timestamp | None
    exit_status: int | None
    interrupted: Interruption | None
    host: str
    git: GitState
    selected: list[NodeId]
    ran: list[NodeId]
    figures: bool
    labgrid: Labgrid | None = None


class Selection(_Part):
    k: str | None = Field(alias="-k")
    m: str | None = Field(alias="-m")


class RunKindEntry(_Part):
    ending: Ending
    evidence: Evidence
    sessions: int
    resumed: bool
    validation: str | None
    words: str


class RunRecord(_Part):
    """A run on one rig."""

    record_schema: SchemaVersion
    run_id: str
    started: Timestamp
    finished: Timestamp | None
    provenance: Provenance
    rig: Rig | None = Field(description="None: the run stopped before its rig file was read")
    rehearsal: Rehearsal | None = None
    claims: ClaimsUsed | None
    requirements: dict[str, RequirementEntry]
    selected: dict[NodeId, RequirementIds]
    collected: dict[NodeId, RequirementIds] | None = None
    selection: Selection | None = None
    tests: dict[NodeId, TestEntry]
    safety_actions: list[SafetyAction]
    exit_status: int | None
    rig_broken: str | None
    interrupted: Interruption | None
    abandoned: str | None = None
    sessions: list[Session]
    run_kind: RunKindEntry | None = None
    tool_validation: dict[str, Any] | None = Field(None, description="the hil validate campaign this run is")


class UnitEntry(_Part):
    folder: str
    rig_file: str
    exit_status: int | None
    pump: dict[str, Any] | None
    labgrid: Labgrid | None
    tests: int
    rig_sound: bool | None = Field(description="its rig did not break, every STOP acknowledged (None: no record)")


class UnitJudged(_Part):
    place: str
    pump_serial: str
    verdict: Verdict | None
    reason: str
    measurements: dict[str, list[MeasurementEntry]]


class AcrossUnitsEntry(_Part):
    requirement: str
    count: int
    judged: AcrossUnits
    source: str
    verdict: Verdict
    reason: str
    units: list[UnitJudged]
    set: list[MeasurementEntry]


class PlacesRig(_Part):
    id: str
    file: str
    sha256: str
    clock: Literal["sim", "real", "rehearsal"]


class PlacesRecord(_Part):
    """A run across labgrid places: its units are run folders of their own under units/."""

    record_schema: SchemaVersion
    run_id: str
    kind: Literal["places"]
    split: bool
    started: Timestamp
    finished: Timestamp | None
    provenance: Provenance
    rig: PlacesRig
    units: dict[str, UnitEntry]
    across_units: list[AcrossUnitsEntry]
    unit_selected: dict[str, RequirementIds]
    unit_verdicts: dict[str, Verdict | Literal["NOT RUN"]] = Field(description="`<test> · <place>` → its word")
    unit_endings: dict[str, Ending]
    tests: dict[NodeId, TestEntry] = Field(description="none: they are the units'")
    safety_actions: list[SafetyAction]
    exit_status: int
    interrupted: Interruption | None
    run_kind: RunKindEntry | None = None


def _shape(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "places" if kind == "places" else "run"


Record = Annotated[Annotated[RunRecord, Tag("run")] | Annotated[PlacesRecord, Tag("places")], Discriminator(_shape)]
RECORD = TypeAdapter(Record)


SCHEMA_FILE = Path(__file__).with_name("record.schema.json")


@cache
def _published() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Check:
    """A record.json checked against the published schema: its problems, or the older version it was not checked
    against (written before the schema was published, or by an older suite)."""

    problems: list[str]
    older: int | None = None

    def said(self) -> str:
        """How a passing check is said."""
        if self.older is not None:
            return (
                f"its record.json is of record_schema {self.older}, older than the published {SCHEMA_VERSION}: "
                "not checked"
            )
        return f"its record.json is valid against the published schema (record_schema {SCHEMA_VERSION})"


def _said(error: jsonschema.ValidationError) -> str:
    """The error's message; for a value none of a key's alternatives allow (a value or null, say), each one's."""
    messages = sorted({sub.message for sub in error.context}) if error.context else [error.message]
    return " or ".join(message[:200] for message in messages)


def check(run_dir: Path, limit: int = 20) -> Check:
    """The run's record.json against the published schema (the shipped file, as any reader checks it: a string is
    no number), each problem at its key (at most `limit`)."""
    path = Path(run_dir) / "record.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Check(["record.json: missing (nothing says what the run was)"])
    except (OSError, ValueError) as exc:
        return Check([f"record.json: unreadable ({exc})"])
    if (older := older_version(record)) is not None:
        return Check([], older)
    errors = sorted(_published().iter_errors(record), key=lambda e: [str(part) for part in e.absolute_path])
    found = [f"record.json: {'.'.join(str(part) for part in e.absolute_path) or '(top)'}: {_said(e)}" for e in errors]
    return Check(found[:limit] + ([f"record.json: {len(found) - limit} more"] if len(found) > limit else []))


def older_version(record: object) -> int | None:
    """The record's schema version when it is an integer older than SCHEMA_VERSION (written before the schema was
    published, or by an older suite): not checked against this one."""
    version = record.get("record_schema") if isinstance(record, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) and version < SCHEMA_VERSION else None


def json_schema() -> dict:
    """The record's JSON Schema (draft 2020-12). The two shapes are told apart by `kind` (if/then/else, not
    pydantic's oneOf: a validator then names the key that is wrong, not that neither shape fits)."""
    schema = RECORD.json_schema(by_alias=True)
    run, places = (f"#/$defs/{model.__name__}" for model in (RunRecord, PlacesRecord))
    assert schema.pop("oneOf") == [{"$ref": run}, {"$ref": places}]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:hil:record-schema:{SCHEMA_VERSION}",
        "title": f"hil run record (record.json), record_schema {SCHEMA_VERSION}",
        "if": {"properties": {"kind": {"const": "places"}}, "required": ["kind"]},
        "then": {"$ref": places},
        "else": {"$ref": run},
        **schema,
    }


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
