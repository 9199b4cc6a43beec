"""What a run is, said the same way on every page of its report, in its record, its ledger entry and the console:
how it ended (complete, interrupted, stopped at setup), whether it was resumed, and what it is evidence of (a
device on a bench, or only of an emulator, a rehearsal or the tool's own validation). Decided from the run's record
alone, so a report rebuilt later says what the run said."""

from dataclasses import dataclass
from enum import StrEnum

from hil.evidence.verdict import Verdict

REHEARSAL_NOTE = "REHEARSAL: the emulator running free in real time, not a pump: not evidence"


class Ending(StrEnum):
    COMPLETE = "complete"  # every selected test ran to a verdict (whatever the verdicts)
    INTERRUPTED = "interrupted"  # a signal or Ctrl-C ended it; the tests it never reached are NOT RUN
    STOPPED_AT_SETUP = "stopped at setup"  # the rig failed before any test measured: nothing about the pump


class Evidence(StrEnum):
    DEVICE = "device"  # a pump on a bench
    EMULATED = "emulated rig"  # the reference emulator in lockstep: shows the suite works, not that a pump does
    REHEARSAL = "rehearsal"  # the emulator running free in real time: a bench rehearsed
    TOOL_VALIDATION = "tool validation"  # a seeded-defect or validation campaign: evidence about the suite

    @property
    def disclaimer(self) -> str | None:
        """The banner every page carries when the run is not evidence of a device."""
        return {
            Evidence.DEVICE: None,
            Evidence.EMULATED: "EMULATED RIG: not evidence of a device",
            Evidence.REHEARSAL: REHEARSAL_NOTE,
            Evidence.TOOL_VALIDATION: "TOOL VALIDATION (seeded defects on the emulator): not evidence of a device",
        }[self]


@dataclass(frozen=True)
class RunKind:
    ending: Ending
    evidence: Evidence
    sessions: int  # more than one: resumed
    validation: str | None = None  # the validation it belongs to, with its scope (tool validation only)

    @property
    def resumed(self) -> bool:
        return self.sessions > 1

    @property
    def words(self) -> str:
        """e.g. "COMPLETE", "INTERRUPTED", "RESUMED (2 sessions), COMPLETE", "STOPPED AT SETUP"."""
        ending = self.ending.upper()
        return f"RESUMED ({self.sessions} sessions), {ending}" if self.resumed else ending

    def title(self, run_id: str) -> str:
        """The report's name, which heads every one of its pages."""
        parts = [self.words]
        if self.evidence.disclaimer:
            parts.append(self.evidence.disclaimer)
        return f"Insulin-pump safety verification: {run_id} · " + " · ".join(parts)

    def as_record(self) -> dict:
        return {
            "ending": self.ending.value,
            "evidence": self.evidence.value,
            "sessions": self.sessions,
            "resumed": self.resumed,
            "validation": self.validation,
            "words": self.words,
        }


def of(record: dict) -> RunKind:
    """The kind of the run a record describes."""
    return RunKind(ending(record), evidence(record), max(1, len(record.get("sessions") or [])), _validation(record))


def ending(record: dict) -> Ending:
    if record.get("interrupted") or record.get("abandoned") or not record.get("finished"):
        return Ending.INTERRUPTED
    if record.get("kind") == "places":  # its units' endings: all stopped at setup, or it ran
        endings = set((record.get("unit_endings") or {}).values())
        return Ending.STOPPED_AT_SETUP if endings == {Ending.STOPPED_AT_SETUP} else Ending.COMPLETE
    tests = record.get("tests") or {}
    if any("call" in (test.get("phases") or {}) for test in tests.values()):
        return Ending.COMPLETE
    if record.get("rig_broken") or any(test.get("verdict") == Verdict.ERROR for test in tests.values()):
        return Ending.STOPPED_AT_SETUP  # the rig (or its opening) failed before any test's call: nothing measured
    return Ending.COMPLETE  # every selected test skipped for a reason of its own (e.g. a capability the pump lacks)


def evidence(record: dict) -> Evidence:
    rig = record.get("rig") or {}
    if record.get("tool_validation") or "seeded_defect" in (rig.get("effective_config") or {}):
        return Evidence.TOOL_VALIDATION
    if record.get("rehearsal") or rig.get("clock") == "rehearsal":
        return Evidence.REHEARSAL
    if rig.get("clock") == "sim":
        return Evidence.EMULATED
    return Evidence.DEVICE


def _validation(record: dict) -> str | None:
    """The validation the run is a campaign of, what it ran first (a partial one says so before anything else:
    the report's overview cuts a long value short on screen)."""
    validation = record.get("tool_validation")
    if not validation:
        return None
    scope = validation.get("scope") or {}
    seed = validation.get("seed")
    return (
        ("PARTIAL: " if not scope.get("whole_catalogue", True) else "")
        + (f"ran {scope['described']}; " if scope.get("described") else "")
        + f"validation {validation.get('id')}, rig {validation.get('rig')}"
        + (f", seed {seed}" if seed is not None else "")
    )
