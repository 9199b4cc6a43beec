"""`hil verify --places`: one `hil verify` per labgrid place at once (each acquires its place, runs, stops its pump
and gives the place back), into units/<place>/ of one run; then every requirement they ran judged across the units,
one report, one seal."""

import json
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hil import project
from hil.evidence import report as reporting
from hil.evidence import report_input, run_kind, units, units_allure
from hil.evidence.run import new_run_dir, utc_now, write_record
from hil.evidence.verdict import Verdict
from hil.rig.config import RigConfig, RigConfigError, load_rig
from hil.run import events, places_plan
from hil.run.finish import finish
from hil.run.folder import read_record
from hil.run.place import signals_interrupt
from hil.run.pytest_child import ABORT_GRACE_S, ChildOutcome, run_children, signals_held
from hil.run.say import RunStop, Say
from hil.run.suites import children_env, collect_trace
from hil.specs import load_requirements


@dataclass(frozen=True)
class AcrossPlaces:
    """What one `hil verify --places` runs."""

    config: RigConfig
    specs: Path
    k: str | None
    report: bool
    places: str  # A,B,… as given
    split: bool  # the selected tests spread over the places, not each on every place
    wait_s: float
    pytest_args: list[str] = field(default_factory=list)


def verify(request: AcrossPlaces, say: Say) -> int:
    """The run across places, from its plan to its seal; the exit status `hil verify --places` ends with."""
    try:
        places = places_plan.parse(request.places, request.config)
    except places_plan.PlacesError as exc:
        raise RunStop(1, f"hil: {exc}") from None
    requirements = load_requirements([request.specs], request.config.claims)
    started = utc_now()
    run_dir = new_run_dir(project.reports(), request.config.path.stem)
    rigs, selections = _plan(request, places, run_dir)
    say.out(
        f"run {run_dir.name}: {request.config.rig_id} on {len(selections)} place(s) at once"
        + (", the tests split over them" if request.split else ", a pump unit each")
        + f": {', '.join(selections)}"
    )
    events.emit("run", run=run_dir.name, folder=run_dir.resolve())
    with signals_held(say.err, "sealing the run"):
        outcomes = _run_units(request, run_dir, rigs, selections, say)
        interrupted = next((o.signal for o in outcomes if o.signal is not None), None)
        records = _unit_records(run_dir, selections)
        if not records:
            shutil.rmtree(run_dir, ignore_errors=True)
            say.err(f"hil: no test ran on any place: nothing sealed, {run_dir} removed")
            code = 128 + interrupted.value if interrupted else max(o.exit_status for o in outcomes) or 5
            events.emit("discarded", run=run_dir.name, exit_status=code)
            return code
        ran = sorted({rid for r in records.values() for test in r["tests"].values() for rid in test["requirements"]})
        across = [units.judge(requirements[rid], records) for rid in ran if rid in requirements]
        _merge_units(run_dir, records, across)
        exit_statuses = {place: outcome.exit_status for place, outcome in zip(selections, outcomes, strict=True)}
        write_record(
            run_dir,
            units.places_record(run_dir.name, request.config, records, exit_statuses, across, started, request.split),
        )
        kind: run_kind.RunKind | None = None
        try:
            kind = finish(run_dir, say, report=request.report)
            unsealed = 0
        except RunStop as stop:
            say.err(stop.line)
            unsealed = stop.exit_status
        undecided = [a.requirement.id for a in across if a.verdict is not Verdict.PASS]
        failed = next((o.exit_status for o in outcomes if o.exit_status), 0)
        code = 128 + interrupted.value if interrupted else failed or unsealed or (1 if undecided else 0)
        # said while signals are held, so that a second Ctrl-C cannot leave a sealed run said to be unsealed
        events.emit(
            "ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=code, kind=kind.words if kind else None
        )
    say.out(units.table_text(across))
    if undecided:
        say.err(f"hil: not PASS across units: {', '.join(undecided)} (across-units.txt)")
    if interrupted:
        say.err(
            f"hil: run INTERRUPTED by {interrupted.name}: "
            + ("NOT sealed" if unsealed else "sealed as an interrupted run")
        )
    return code


def _plan(request: AcrossPlaces, places: list[str], run_dir: Path) -> tuple[dict[str, Path], dict[str, str | None]]:
    """Each place's rig file, written into the run and validated, and the -k selection each place runs; a RunStop,
    the run folder removed, when a rig file is refused, nothing is selected or a signal ends the planning."""
    received: list[signal.Signals] = []
    try:
        with signals_interrupt(received):
            rigs = {
                place: places_plan.unit_rig_file(run_dir / "rigs", request.config, place, i)
                for i, place in enumerate(places)
            }
            for path in rigs.values():
                load_rig(path)
            selections: dict[str, str | None] = dict.fromkeys(places, request.k)
            if request.split:
                plan = places_plan.split(list(collect_trace(request.k)), places, project.reports() / "runs")
                (run_dir / "split.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
                selections = {place: places_plan.selection(nodes, request.k) for place, nodes in plan.items() if nodes}
    except RigConfigError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise RunStop(1, str(exc)) from None
    except KeyboardInterrupt:
        shutil.rmtree(run_dir, ignore_errors=True)
        signum = received[0] if received else signal.SIGINT
        raise RunStop(
            128 + signum.value, f"hil: {signum.name} while planning the run on {request.places}: nothing ran"
        ) from None
    if not selections:  # --split of a selection with no test
        shutil.rmtree(run_dir, ignore_errors=True)
        raise RunStop(
            5,
            f"hil: no test selected{f' by -k {request.k!r}' if request.k else ''}: nothing to run on {request.places}",
        )
    return rigs, selections


def _run_units(
    request: AcrossPlaces, run_dir: Path, rigs: dict[str, Path], selections: dict[str, str | None], say: Say
) -> list[ChildOutcome]:
    """Each place's `hil verify --unit-dir` side by side, each one's output kept in units/<place>.out and relayed
    with its place's name."""
    commands = [
        [sys.executable, "-m", "hil.cli", "verify", "--rig", str(rigs[place]), "--specs", str(request.specs)]
        + ["--unit-dir", str(run_dir / "units" / place)]
        + (["-k", selection] if selection else [])
        + (["--wait", f"{request.wait_s:g}"] if request.wait_s else [])
        + request.pytest_args
        for place, selection in selections.items()
    ]
    (run_dir / "units").mkdir()
    names = list(selections)
    logs = {place: open(run_dir / "units" / f"{place}.out", "w", encoding="utf-8") for place in names}

    def relay(index: int, line: str) -> None:
        logs[names[index]].write(line + "\n")
        logs[names[index]].flush()
        say.out(f"[{names[index]}] {line}")

    try:
        return run_children(commands, say.err, ABORT_GRACE_S + 120, cwd=project.root(), env=children_env(), relay=relay)
    finally:
        for log in logs.values():
            log.close()


def _unit_records(run_dir: Path, selections: dict[str, str | None]) -> dict[str, dict]:
    """Each place's unit record; a place that ran nothing (held by someone, say) is in the table as not run. Empty
    when no place ran a test."""
    records = {
        place: record
        for place in selections
        if (run_dir / "units" / place / "record.json").exists() and (record := read_record(run_dir / "units" / place))
    }
    return {place: records.get(place) or {"tests": {}} for place in selections} if records else {}


def _merge_units(run_dir: Path, records: dict[str, dict], across: list[units.AcrossUnitsResult]) -> None:
    """The judgement across units in its files, and every unit's results and audit documents in the run's report."""
    (run_dir / "across-units.txt").write_text(units.table_text(across), encoding="utf-8")
    (run_dir / "across-units.json").write_text(
        json.dumps([a.as_dict() for a in across], indent=1, default=str), encoding="utf-8"
    )
    results = run_dir / "allure-results"
    for place, record in records.items():
        serial = str(record["rig"]["identities"]["pump"].get("serial", "?")) if record.get("rig") else "?"
        units_allure.merge_unit_results(run_dir / "units" / place / "allure-results", results, place, serial)
        audit = sorted((run_dir / "units" / place / report_input.AUDIT).glob("*"))
        reporting.add_document(run_dir, {f"{place}-{doc.name}": doc.read_text(encoding="utf-8") for doc in audit})
    units_allure.add_across_units(results, across)
