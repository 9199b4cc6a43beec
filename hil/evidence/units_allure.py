"""The report of a run across places: every unit's Allure results in the run's own, each test told apart by its
unit (a parameter, and its own history id, else Allure would show one unit's result as a retry of the other's), and
a result per requirement judged across the units, beside the units' tests of that requirement."""

import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path

from hil.evidence.run import TEST_LABEL
from hil.evidence.units import AcrossUnitsResult, measured_text, table_text
from hil.evidence.verdict import Verdict

STATUS = {Verdict.PASS: "passed", Verdict.FAIL: "failed"}  # anything else: not decided, "broken"


def merge_unit_results(unit_results: Path, into: Path, place: str, pump_serial: str) -> int:
    """Copy one unit's Allure results into the run's, each test result marked with its unit; the number of test
    results copied."""
    into.mkdir(parents=True, exist_ok=True)
    copied = 0
    for source in sorted(unit_results.iterdir()) if unit_results.is_dir() else ():
        if source.name in ("environment.properties", "categories.json", "executor.json"):
            continue
        target = into / source.name
        if not source.name.endswith("-result.json"):
            shutil.copyfile(source, target)
            continue
        result = json.loads(source.read_text(encoding="utf-8"))
        unit = f"{place} ({pump_serial})"
        result["name"] = f"{result.get('name', '')} · {place}"
        result["parameters"] = [*(result.get("parameters") or []), {"name": "unit", "value": unit}]
        for key in ("historyId", "testCaseId"):
            if key in result:
                result[key] = hashlib.md5(f"{result[key]}:{place}".encode()).hexdigest()
        result["labels"] = [
            {"name": label["name"], "value": f"{label['value']} · {place}"} if label["name"] == TEST_LABEL else label
            for label in result.get("labels") or []
        ] + [{"name": "tag", "value": f"unit {place}"}]  # a test per unit: never one unit's as another's attempt
        target.write_text(json.dumps(result), encoding="utf-8")
        copied += 1
    return copied


def add_across_units(into: Path, results: list[AcrossUnitsResult]) -> None:
    """A result per requirement judged across the units (epic and story of the requirement), its units and set
    statistic as steps, the table attached."""
    into.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    for result in results:
        requirement = result.requirement
        table = into / f"{uuid.uuid4()}-attachment.txt"
        table.write_text(table_text([result]), encoding="utf-8")
        bounds = [b.name for b in requirement.acceptance]
        steps = [
            _step(
                f"unit {u.place} ({u.pump_serial}): {u.verdict or 'not run'}: "
                + "; ".join(f"{name} = {measured_text(u.measurements.get(name))}" for name in bounds),
                u.verdict,
                now,
            )
            for u in result.units
        ]
        steps += [_step(m.summary(), m.outcome, now) for m in result.set_measurements]
        name = f"{requirement.id} across units: {requirement.units.describe()}"
        allure_result = {
            "uuid": str(uuid.uuid4()),
            "historyId": hashlib.md5(f"across-units:{requirement.id}".encode()).hexdigest(),
            "name": name,
            "fullName": f"across units: {requirement.id}",
            "status": STATUS.get(result.verdict, "broken"),
            "statusDetails": {"message": f"{result.verdict}: {result.reason}"},
            "stage": "finished",
            "start": now,
            "stop": now,
            "description": f"{requirement.statement}\n\nJudged across units: {requirement.units.describe()}"
            + (f" ({requirement.units.source})" if requirement.units.source else "")
            + f".\n\n{result.verdict}: {result.reason}",
            "steps": steps,
            "attachments": [{"name": "across units", "source": table.name, "type": "text/plain"}],
            "labels": [
                {"name": "epic", "value": requirement.area},
                {"name": "story", "value": requirement.id},
                {"name": "severity", "value": requirement.severity},
                {"name": "suite", "value": "across units"},
                {"name": "tag", "value": "across units"},
            ],
        }
        (into / f"{allure_result['uuid']}-result.json").write_text(json.dumps(allure_result), encoding="utf-8")


def _step(name: str, verdict: str | None, now: int) -> dict:
    """A step whose status is Allure's word for a verdict or a measurement outcome (PASS, FAIL; else broken)."""
    status = STATUS.get(Verdict(verdict), "broken") if verdict in STATUS else "skipped" if verdict is None else "broken"
    return {"name": name, "status": status, "stage": "finished", "start": now, "stop": now}
