"""Requirements judged across pump units: the per-unit runs of `hil verify --places` (one place, one pump unit)
read from their records, and a verdict per requirement across them, as the requirement's `units:` asks.

- `each` (the default): PASS when at least `count` units ran the requirement and every one passed; FAIL when any
  unit failed it; otherwise INCONCLUSIVE, naming the units missing or not judged.
- `set`: for every acceptance bound, the mean across units with its expanded uncertainty
  (hil.analysis.across_units) under the decision rule of hil.evidence.measurements. A unit is a sample when its
  test ran to a judgement (PASS, FAIL or INCONCLUSIVE) with a finite value for every bound; a unit that failed with
  no value to average is a FAIL of the set. Fewer samples than `count` is INCONCLUSIVE, never PASS.
"""

import math
from dataclasses import dataclass, field

from hil.analysis.across_units import mean_across_units
from hil.evidence import run_kind
from hil.evidence.measurements import FAIL, INCONCLUSIVE, PASS, Measurement, measurement
from hil.evidence.run import SCHEMA_VERSION, utc_now
from hil.evidence.verdict import Verdict, shown_word
from hil.rig.config import RigConfig
from hil.specs.model import AcrossUnits, Requirement

JUDGED = {Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE}  # a unit whose test ran to a judgement


@dataclass(frozen=True)
class UnitResult:
    """One unit's outcome of one requirement: its verdict (None: the requirement did not run there) and the
    measurements of the requirement's bounds, by name."""

    place: str
    pump_serial: str
    verdict: Verdict | None
    reason: str
    measurements: dict[str, list[dict]] = field(default_factory=dict)


@dataclass(frozen=True)
class AcrossUnitsResult:
    requirement: Requirement
    units: list[UnitResult]
    verdict: Verdict
    reason: str
    set_measurements: list[Measurement] = field(default_factory=list)

    def as_dict(self) -> dict:
        plan = self.requirement.units
        return {
            "requirement": self.requirement.id,
            "count": plan.count,
            "judged": plan.judged,
            "source": plan.source,
            "verdict": self.verdict,
            "reason": self.reason,
            "units": [
                {
                    "place": u.place,
                    "pump_serial": u.pump_serial,
                    "verdict": u.verdict,
                    "reason": u.reason,
                    "measurements": dict(u.measurements),
                }
                for u in self.units
            ],
            "set": [m.as_dict() for m in self.set_measurements],
        }


def unit_results(requirement: Requirement, records: dict[str, dict]) -> list[UnitResult]:
    """Each unit's outcome of the requirement, from its run record (place → record)."""
    bounds = {b.name for b in requirement.acceptance}
    results = []
    for place, record in records.items():
        tests = [t for t in record.get("tests", {}).values() if requirement.id in t.get("requirements", ())]
        verdicts = [Verdict(t["verdict"]) if t.get("verdict") else Verdict.INTERRUPTED for t in tests]
        found: dict[str, list[dict]] = {}
        for test in tests:
            for m in test.get("measurements", ()):
                if m.get("name") in bounds:
                    found.setdefault(m["name"], []).append(m)
        pump = ((record.get("rig") or {}).get("identities") or {}).get("pump") or {}
        results.append(
            UnitResult(
                place,
                str(pump.get("serial", "?")),
                _combined(verdicts),
                "; ".join(str(t.get("reason") or "") for t in tests if t.get("verdict") != Verdict.PASS),
                found,
            )
        )
    return results


def _combined(verdicts: list[Verdict]) -> Verdict | None:
    """A unit's verdict over the requirement's tests: PASS only when every one passed."""
    if not verdicts:
        return None
    for worst in (Verdict.FAIL, Verdict.INTERRUPTED, Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.SKIPPED):
        if worst in verdicts:
            return worst
    return Verdict.PASS


def judge(requirement: Requirement, records: dict[str, dict]) -> AcrossUnitsResult:
    """The requirement's verdict across the units whose records are given (place → record)."""
    units = unit_results(requirement, records)
    if requirement.units.judged is AcrossUnits.SET:
        return _judge_set(requirement, units)
    return _judge_each(requirement, units)


def _judge_each(requirement: Requirement, units: list[UnitResult]) -> AcrossUnitsResult:
    count = requirement.units.count
    failed = [u for u in units if u.verdict is Verdict.FAIL]
    if failed:
        return AcrossUnitsResult(requirement, units, Verdict.FAIL, "failed on " + _named(failed))
    passed = [u for u in units if u.verdict is Verdict.PASS]
    if len(passed) >= count and len(passed) == len([u for u in units if u.verdict is not None]):
        return AcrossUnitsResult(
            requirement, units, Verdict.PASS, f"all {len(passed)} units passed; the requirement asks for {count}"
        )
    return AcrossUnitsResult(
        requirement, units, Verdict.INCONCLUSIVE, _short(units, len(passed), count, "passed", {Verdict.PASS})
    )


def _judge_set(requirement: Requirement, units: list[UnitResult]) -> AcrossUnitsResult:
    count = requirement.units.count
    samples, failed_without_value = [], []
    for unit in units:
        if unit.verdict not in JUDGED:
            continue
        finite = all(
            len(unit.measurements.get(b.name, ())) == 1 and _finite(unit.measurements[b.name][0])
            for b in requirement.acceptance
        )
        if finite:
            samples.append(unit)
        elif unit.verdict is Verdict.FAIL:
            failed_without_value.append(unit)
    if failed_without_value:
        return AcrossUnitsResult(
            requirement, units, Verdict.FAIL, "failed with no value to average on " + _named(failed_without_value)
        )
    if len(samples) < max(count, 2):
        reason = _short(units, len(samples), count, "judged", JUDGED)
        return AcrossUnitsResult(requirement, units, Verdict.INCONCLUSIVE, reason)
    judged = []
    for bound in requirement.acceptance:
        taken = [u.measurements[bound.name][0] for u in samples]
        mean = mean_across_units([m["value"] for m in taken], [m["uncertainty"] or 0.0 for m in taken])
        judged.append(
            measurement(
                f"{bound.name} (mean of {mean.n} units, t = {mean.coverage_factor:.3g})",
                mean.mean,
                bound.unit,
                bound.min,
                bound.max,
                mean.expanded_u,
                bound.origin_text(),
            )
        )
    outcomes = {m.outcome for m in judged}
    verdict = Verdict.FAIL if FAIL in outcomes else Verdict.INCONCLUSIVE if INCONCLUSIVE in outcomes else Verdict.PASS
    reason = "; ".join(m.summary() for m in judged if m.outcome != PASS) or f"every bound's mean met ({len(judged)})"
    return AcrossUnitsResult(requirement, units, verdict, reason, judged)


def _finite(m: dict) -> bool:
    value, u = m.get("value"), m.get("uncertainty")
    return isinstance(value, (int, float)) and math.isfinite(value) and (u is None or math.isfinite(u))


def _named(units: list[UnitResult]) -> str:
    return ", ".join(f"{u.place} ({u.pump_serial}): {u.reason or u.verdict}" for u in units)


def _short(units: list[UnitResult], have: int, count: int, what: str, counted: set[Verdict]) -> str:
    """Why a requirement is not decided across units: too few units, and those that ran it without a verdict that
    counts (`counted`)."""
    reason = f"{have} unit{'s' if have != 1 else ''} {what} of the {count} the requirement asks for"
    others = [u for u in units if u.verdict is not None and u.verdict not in counted]
    if others:
        reason += "; not judged on " + ", ".join(f"{u.place}: {u.verdict}" for u in others)
    return reason


def table_text(results: list[AcrossUnitsResult]) -> str:
    """The per-requirement table across units, as an auditor reads it."""
    lines = []
    for result in results:
        plan = result.requirement.units
        lines.append(f"{result.requirement.id}: {plan.describe()}: {result.verdict} ({result.reason})")
        if plan.source:
            lines.append(f"  units: {plan.source}")
        names = [b.name for b in result.requirement.acceptance]
        header = ["unit", "pump", "verdict", *names]
        rows = [
            [
                u.place,
                u.pump_serial,
                str(u.verdict or "not run"),
                *(measured_text(u.measurements.get(n)) for n in names),
            ]
            for u in result.units
        ]
        if result.set_measurements:
            rows.append(
                [
                    f"mean of {len([u for u in result.units if u.verdict in JUDGED])}",
                    "",
                    str(result.verdict),
                    *(f"{m.value:.4g} ± {m.uncertainty:.2g} {m.unit}: {m.outcome}" for m in result.set_measurements),
                ]
            )
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append(
                "  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        lines.append("")
    return "\n".join(lines)


def measured_text(found: list[dict] | None) -> str:
    """A unit's measurements of one bound as the table shows them (— when it has none)."""
    if not found:
        return "—"
    return "; ".join(
        "not computed"
        if m.get("value") is None
        else f"{m['value']:.4g}" + (f" ± {m['uncertainty']:.2g}" if m.get("uncertainty") else "") + f" {m['unit']}"
        for m in found
    )


def _rig_sound(record: dict | None) -> bool | None:
    """A unit's rig did not break and the pump acknowledged every STOP; None: the unit has no record."""
    if not record or not record.get("rig"):
        return None
    return not record.get("rig_broken") and all(action.get("ok") for action in record.get("safety_actions", []))


def places_record(
    run_id: str,
    config: RigConfig,
    records: dict[str, dict],
    exit_statuses: dict[str, int],
    across: list[AcrossUnitsResult],
    started: str,
    split: bool,
) -> dict:
    """The record of a run across places: its units (each a run folder of its own under units/), and every
    requirement they ran judged across them. Its own `tests` are none: they are the units'."""
    first = next(r for r in records.values() if r.get("provenance"))  # a place that ran nothing has none
    interrupted = [r["interrupted"] for r in records.values() if r.get("interrupted")]
    return {
        "record_schema": SCHEMA_VERSION,
        "run_id": run_id,
        "kind": "places",
        "split": split,
        "started": started,
        "finished": utc_now(),
        "provenance": first["provenance"],
        "rig": {"id": config.rig_id, "file": str(config.path), "sha256": config.sha256, "clock": config.data["clock"]},
        "units": {
            place: {
                "folder": f"units/{place}",
                "rig_file": f"rigs/{place}.yaml",
                "exit_status": exit_statuses.get(place),
                "pump": ((records.get(place) or {}).get("rig") or {}).get("identities", {}).get("pump"),
                "labgrid": ((records.get(place) or {}).get("rig") or {}).get("labgrid"),
                "tests": len((records.get(place) or {}).get("tests", {})),
                "rig_sound": _rig_sound(records.get(place)),
            }
            for place in exit_statuses
        },
        "across_units": [a.as_dict() for a in across],
        # what the run's report shows of its units: each unit's tests as `<test> · <place>`, and how each unit ended
        "unit_selected": {
            f"{node} · {place}": ids
            for place, r in records.items()
            for node, ids in (r or {}).get("selected", {}).items()
        },
        "unit_verdicts": {
            f"{node} · {place}": shown_word(test)
            for place, r in records.items()
            for node, test in (r or {}).get("tests", {}).items()
        },
        "unit_endings": {place: run_kind.ending(r).value for place, r in records.items() if r},
        "tests": {},
        "safety_actions": [],
        "exit_status": next((code for code in exit_statuses.values() if code), 0),
        "interrupted": interrupted[0] if interrupted else None,
    }
