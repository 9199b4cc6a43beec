"""The `hil` command: specs check, trace, emulate, verify, report, evidence verify (README.md, "Commands")."""

import csv
import difflib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hil import places as places_plan
from hil import project
from hil import validation_cluster as cluster
from hil.analysis import gravimetry
from hil.drivers import registry
from hil.drivers.registry import DeviceKind
from hil.errors import RigError
from hil.evidence import report as reporting
from hil.evidence import report_input, run_kind, seal, traceability, units, units_allure
from hil.evidence import resume as resuming
from hil.evidence.measurements import DECISION_RULE
from hil.evidence.recording import CsvRecording
from hil.evidence.run import (
    RunRecorder,
    changed_evidence,
    finish_abandoned,
    new_run_dir,
    utc_now,
    write_record,
)
from hil.evidence.run_kind import REHEARSAL_NOTE
from hil.evidence.verdict import Verdict
from hil.procedures import conformance, delivery, preflight
from hil.procedures.scenario_files import scenario_problems
from hil.pytest_child import ABORT_GRACE_S, run_children, run_pytest, signals_held
from hil.rig import lab
from hil.rig import model as rig_model
from hil.rig.abort import SIGNALS
from hil.rig.config import RigConfigError, load_rig
from hil.rig.emulator_process import EmulatorProcess
from hil.rig.model import RIG_ID_PATTERN
from hil.rig.rig import NO_PUMP_LINK, Rig
from hil.run import events, outputs
from hil.run import record as run_record
from hil.run import validate as validate_run
from hil.specs import SpecError, load_requirements
from hil.specs.document import document

EMULATED_TEST_TIMEOUT_S = 900


def _commands(help: str, **options) -> typer.Typer:
    """A command group with Click's plain help: typer's rich panels show every flag as `--help <bool>`."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **options)


app = _commands("Insulin-pump HIL safety verification.", add_completion=False)
specs_app = _commands("Requirement files.")
evidence_app = _commands("Run evidence.")
rig_app = _commands("The rig.")
driver_app = _commands("Drivers.")
app.add_typer(specs_app, name="specs")
app.add_typer(rig_app, name="rig")
app.add_typer(driver_app, name="driver")
app.add_typer(evidence_app, name="evidence")
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
RIG_HELP = "rig file (default: the project's fixtures/rigs/emulator.yaml, else the reference emulator rig)"
SPECS_HELP = "requirement files (default: the project's specs/, else the reference requirements)"


@app.callback()
def main_options(
    root: Path | None = typer.Option(
        None,
        "--root",
        help=f"the project root: its specs/, fixtures/rigs/ and reports/ (default: ${project.ROOT_ENV}, "
        "else the nearest folder from here upward with a specs/ folder, else here)",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="stdout carries only JSON lines, one per event of the run (its id and folder as it starts, how it "
        "ended), for a program that starts hil; everything else goes to stderr (hil/run/events.py)",
    ),
):
    if as_json:
        events.enable()
    try:
        project.set_root(root)
        project.root()
    except project.ProjectError as exc:
        err.print(f"hil: {exc}", markup=False)
        raise typer.Exit(2) from None


def _children_env() -> dict[str, str]:
    """The environment of hil's own child processes (pytest, campaigns): this process's project root."""
    return {**os.environ, project.ROOT_ENV: str(project.root())}


def _suites_pytest(*args: str) -> list[str]:
    """pytest on the package's safety suites, with their own configuration and root whatever folder holds them."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(project.suites_ini()),
        "--rootdir",
        str(project.suites_rootdir()),
        "-p",
        "no:cacheprovider",
        *args,
    ]


@specs_app.command("check")
def specs_check(
    paths: list[Path] = typer.Argument(
        None, help="files or directories (default: the project's specs/, else the reference requirements)"
    ),
    claims: Path | None = typer.Option(
        None, "--claims", help="the pump model's claims file (default: claims/reference-pump.yaml)"
    ),
):
    """Validate requirement files with the claims of a pump model, and the scenario files their cases name; every
    problem is listed with file:line."""
    try:
        requirements = load_requirements(paths or None, claims)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s)")
        raise typer.Exit(1) from None
    bad = scenario_problems(r for r in requirements.values() if not r.not_applicable)
    if bad:
        for line in bad:
            err.print(line.strip(), markup=False)
        err.print(f"{len(bad)} unusable scenario file(s)")
        raise typer.Exit(1)
    files = sorted({str(r.file) for r in requirements.values()})
    out.print(f"ok: {len(requirements)} requirements in {len(files)} file(s): {', '.join(files)}")
    device = next(iter(requirements.values())).device
    not_applicable = sorted(rid for rid, r in requirements.items() if r.not_applicable)
    unclaimed = sum(len(r.unclaimed) for r in requirements.values() if not r.not_applicable)
    out.print(
        f"claims of {device}: {len(requirements) - len(not_applicable)} requirement(s) apply, "
        f"{len(not_applicable)} not applicable{': ' + ', '.join(not_applicable) if not_applicable else ''}; "
        f"{unclaimed} bound(s) not judged for want of a claim",
        markup=False,
    )


@specs_app.command("claims")
def specs_claims(
    claims: Path | None = typer.Option(
        None, "--claims", help="the pump model's claims file (default: claims/reference-pump.yaml)"
    ),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
):
    """Every claim the requirements take from a pump model's claims file, with the requirements taking it, and each
    requirement's hazard, property and the origin of its bounds, as Markdown (the generated part of
    docs/requirements.md, for the reference pump)."""
    try:
        requirements = load_requirements([specs or project.specs()], claims)
    except SpecError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    out.print(document(requirements), end="", markup=False, highlight=False, soft_wrap=True)


def collect_trace(k: str | None = None) -> dict[str, list[str]]:
    """test node id → requirement ids, from a pytest collection of the safety suites (with -k: the selected)."""
    return _collect(k, needs=False)[0]


def _collect(k: str | None, needs: bool) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """(test node id → requirement ids, and with `needs` test node id → the pump capabilities it needs → what
    needs each), from one pytest collection of the safety suites."""
    tests = project.safety_suites()
    with tempfile.TemporaryDirectory() as tmp:
        target, needs_file = Path(tmp) / "trace.json", Path(tmp) / "needs.json"
        options = ["--hil-trace", str(target), *(["--hil-needs", str(needs_file)] if needs else [])]
        done = subprocess.run(
            _suites_pytest("--collect-only", "-q", str(tests), *options, *(["-k", k] if k else [])),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=project.root(),
            env=_children_env(),
            start_new_session=True,
        )  # a terminal's Ctrl-C must not cut a seal short
        if not target.exists():
            raise RuntimeError(f"collecting {tests} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return json.loads(target.read_text()), json.loads(needs_file.read_text()) if needs else {}


def _record(run_dir: Path) -> dict | None:
    """A run's record.json; None when there is none; exit 1 with one line when it is not a record."""
    path = run_dir / "record.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        err.print(f"{path}: not a readable record: {exc}", markup=False)
        raise typer.Exit(1) from None
    if not isinstance(record, dict) or not isinstance(record.get("tests"), dict):
        err.print(f"{path}: not a run record (no 'tests' mapping)", markup=False)
        raise typer.Exit(1)
    return record


class TraceFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _trace_format(name: str) -> TraceFormat:
    """The format by name; a one-line usage error (exit 2) for any other."""
    try:
        return TraceFormat(name.lower())
    except ValueError:
        err.print(f"hil trace: --format must be one of {', '.join(TraceFormat)}, not {name!r}", markup=False)
        raise typer.Exit(2) from None


@app.command()
def trace(
    format: str = typer.Option("table", "--format", help="table, csv or json"),
    run: str | None = typer.Option(None, "--run", help="run folder or id for the verdicts (default: reports/latest)"),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
    bounds: bool = typer.Option(
        False,
        "--bounds",
        help="the run's bounds instead, one CSV line each: limits, value ± U, outcome, and where the limits come from "
        "(the device's claim with its figure and source, a standard, a regulation, a judgement)",
    ),
):
    """Requirement → tests → verdict of a run. Exits 1 if a requirement has no test or a test names an unknown id."""
    format = _trace_format(format)
    specs = specs or project.specs()
    record, run_dir = None, None
    if run or (project.reports() / "latest").exists():
        run_dir = _run_dir(run)
        record = _record(run_dir)
    try:  # a run's requirements with the claims it was judged against
        requirements = load_requirements([specs], _run_claims(run_dir, record) if run_dir and record else None)
    except SpecError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    matrix = traceability.build(requirements, collect_trace(), record)
    rows = matrix.rows
    if bounds:
        if record is None:
            err.print("hil trace --bounds: no run (give --run, or run hil verify first)", markup=False)
            raise typer.Exit(1)
        out.print(traceability.bound_table(matrix, record), end="", markup=False, highlight=False, soft_wrap=True)
    elif format == TraceFormat.JSON:
        out.print_json(json.dumps({"run": (record or {}).get("run_id"), "rows": rows, "problems": matrix.problems}))
    elif format == TraceFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=traceability.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        out.print(buffer.getvalue(), end="", markup=False)
    else:
        table = Table(
            "requirement",
            "title",
            "test",
            "outcome",
            "verdict",
            "class",
            title=f"run {record['run_id']}" if record else "no run",
        )
        for row in rows:
            table.add_row(
                row["requirement"],
                row["title"],
                row["test"] or "[red]NO TEST[/red]",
                row["outcome"],
                row["verdict"],
                row["failure_class"],
            )
        out.print(table)
    problems = matrix.suite_problems  # "all skipped" belongs to a run: `hil verify` judges it
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise typer.Exit(1)


@app.command()
def emulate(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    labgrid_exporter: Path | None = typer.Option(
        None,
        "--labgrid-exporter",
        help="also write a labgrid exporter configuration publishing the endpoints (docs/lab.md), "
        "as the resources of group --group",
    ),
    group: str = typer.Option("emulator", "--group", help="the exporter group (with --labgrid-exporter)"),
):
    """Run the emulator standalone and print its endpoints (pump, balance, control ptys)."""
    rig = rig or project.default_rig()
    try:
        load_rig(rig)
    except RigConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    if labgrid_exporter is not None and not re.fullmatch(rig_model.LAB_NAME_PATTERN, group):
        err.print(f"hil emulate: --group {group!r}: a labgrid name is letters, digits, '.', '_', '-'", markup=False)
        raise typer.Exit(1)
    if labgrid_exporter is None:
        os.execv(sys.executable, [sys.executable, "-m", "hil.emulator", str(rig)])
    try:
        emulator = EmulatorProcess(rig)
    except RigError as exc:
        err.print(f"hil emulate: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        written = labgrid_exporter.with_name(labgrid_exporter.name + ".partial")  # the exporter never reads half
        written.write_text(lab.exporter_config(group, emulator.endpoints), encoding="utf-8")
        written.replace(labgrid_exporter)
    except OSError as exc:
        emulator.stop()
        err.print(f"hil emulate: cannot write {labgrid_exporter}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        out.print(json.dumps(emulator.endpoints), markup=False)
        out.print(f"labgrid exporter configuration: {labgrid_exporter} (group {group})", markup=False)
        sys.stdout.flush()
        emulator.process.wait()
        err.print(f"hil emulate: the emulator exited with code {emulator.process.returncode}", markup=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        emulator.stop()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def verify(
    ctx: typer.Context,
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    k: str | None = typer.Option(None, "-k", help="pytest -k expression"),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
    report: bool = typer.Option(
        True,
        "--report/--no-report",
        help="build the HTML report (without: record, raw data, plots and seal only; `hil report RUN` builds it later)",
    ),
    figures: bool = typer.Option(
        True,
        "--figures/--no-figures",
        help="draw the tests' figures (without: measurements, verdicts and raw data as always, a fifth less CPU; "
        "hil validate's campaigns other than the one that holds its report)",
    ),
    resume: str | None = typer.Option(
        None,
        "--resume",
        help="continue this interrupted run (folder or id): "
        "its unfinished tests, on the same rig, into the same folder",
    ),
    wait: float = typer.Option(
        0.0,
        "--wait",
        min=0,
        help="a rig on a labgrid place held by someone: wait up to this many seconds for it (a labgrid reservation)",
    ),
    places: str | None = typer.Option(
        None,
        "--places",
        help="A,B,…: the rig on each of these labgrid places at once, a pump unit each, into one run; requirements "
        "judged across the units as their units: asks (docs/lab.md)",
    ),
    split: bool = typer.Option(
        False, "--split", help="with --places: spread the selected tests over the places instead (one unit each)"
    ),
    unit_dir: Path | None = typer.Option(None, "--unit-dir", hidden=True, help="one unit of a --places run"),
    tool_validation: str | None = typer.Option(
        None, "--tool-validation", hidden=True, help="JSON: the hil validate campaign this run is (id, rig, seed)"
    ),
):
    """Run the safety suites against the rig; write reports/runs/<id>/ and its HTML report."""
    record = _record(_run_dir(resume)) if resume else None
    if record is not None and record.get("kind") == "places":
        err.print(
            f"resume refused: {record['run_id']} is a run across places: its units' places may be another's by now; "
            "run the unfinished requirements again with --places",
            markup=False,
        )
        raise typer.Exit(1)
    if record is not None and rig is None and record.get("rig"):  # a resumed run goes on with its own rig file
        rig = project.at_root(Path(record["rig"]["file"]))
    rig, specs = rig or project.default_rig(), specs or project.specs()
    try:
        config = load_rig(rig)
        load_requirements([specs], config.claims)  # with the claims of the pump the rig holds
    except (SpecError, RigConfigError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    try:  # a key that cannot seal must stop the run before it starts, not after days of testing
        seal.signing.key_from_env()
    except seal.signing.SigningKeyError as exc:
        err.print(f"{seal.signing.KEY_ENV}: {exc}", markup=False)
        raise typer.Exit(1) from None
    if not figures:  # pytest's own option, passed on as the extra arguments are (a --places unit's too)
        ctx.args.append("--hil-no-figures")
    if places is not None:
        if resume:
            err.print("hil: --resume does not go with --places: resume each unit's own run", markup=False)
            raise typer.Exit(1)
        _verify_places(ctx, config, specs, k, report, places, split, wait)
        return
    if split:
        err.print("hil: --split spreads the selected tests over --places; no --places given", markup=False)
        raise typer.Exit(1)
    place = config.section("labgrid")
    if not place:
        if wait:
            err.print(f"hil: --wait is for a rig on a labgrid place; {config.path} names none", markup=False)
            raise typer.Exit(1)
        _verify_on(ctx, config, rig, specs, k, report, resume, record, None, unit_dir, tool_validation)
        return
    held: _Held | None = None
    received: list[signal.Signals] = []
    try:
        with _signals_interrupt(received):  # acquiring or waiting: any abort signal ends it (lab.acquire cleans up)
            held = _Held(lab.acquire(place["coordinator"], place["place"], wait))
        out.print(f"labgrid: place {held.place} of {place['coordinator']} acquired by {held.holder}", markup=False)
        os.environ[lab.ACQUISITION_ENV] = held.acquisition.as_json()  # for pytest (and a resume's rig check)
        _verify_on(ctx, config, rig, specs, k, report, resume, record, held, unit_dir)
    except lab.LabError as exc:
        err.print(f"hil: {exc}", markup=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        signum = received[0] if received else signal.SIGINT
        err.print(f"hil: {signum.name} while acquiring place {place['place']}: nothing ran", markup=False)
        raise typer.Exit(128 + signum.value) from None
    finally:
        if held is not None:
            _release_place(held)


@contextmanager
def _signals_interrupt(received: list[signal.Signals]):
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt in the block (each kept in `received`), so that whatever
    the block was doing with the coordinator is undone on the way out."""

    def interrupt(signum, frame):
        received.append(signal.Signals(signum))
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class _Held:
    """The place `hil verify` holds, and whether its pump was left stopped (the place may go back to the lab)."""

    acquisition: lab.Acquisition
    pump_stopped: bool = True

    @property
    def place(self) -> str:
        return self.acquisition.place

    @property
    def holder(self) -> str:
        return self.acquisition.holder


def _pump_left_stopped(child, record: dict | None) -> bool:
    """Whether pytest's rig had the pump's last STOP acknowledged, or never opened a pump link to command it."""
    if child.killed:
        return False
    actions = (record or {}).get("safety_actions") or []
    return not actions or actions[-1]["ok"] or actions[-1]["detail"] == NO_PUMP_LINK


def _release_place(held: _Held) -> None:
    """After pytest has ended, its pump stopped: the place goes back to the lab (abort signals held meanwhile).
    Kept, and said, when the pump's last STOP was not acknowledged or pytest was killed before it."""
    os.environ.pop(lab.ACQUISITION_ENV, None)
    if not held.pump_stopped:
        err.print(
            f"hil: labgrid place {held.place} kept acquired: the pump's STOP was not acknowledged (or pytest was "
            f"killed before it); check the pump, then "
            f"`labgrid-client -x {held.acquisition.coordinator} -p {held.place} release`",
            markup=False,
        )
        return
    with signals_held(lambda line: err.print(line, markup=False), f"releasing place {held.place}"):
        try:
            lab.release(held.acquisition)
            out.print(f"labgrid: place {held.place} released", markup=False)
        except lab.LabError as exc:
            err.print(f"hil: {exc}", markup=False)


def _verify_on(
    ctx: typer.Context,
    config,
    rig: Path,
    specs: Path,
    k,
    report: bool,
    resume,
    record,
    held: _Held | None,
    unit_dir: Path | None = None,
    tool_validation: str | None = None,
) -> None:
    """`hil verify` once its inputs are valid and its place (if any) is held: pytest, the trace gate, the seal.
    unit_dir: one unit of a --places run, into that folder; the run across places reports and seals it.
    tool_validation: the hil validate campaign this run is (JSON), said in its record, report and seal."""
    if unit_dir is not None:
        run_dir = unit_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        targets = [str(project.safety_suites())] + (["-k", k] if k else [])
    elif resume:
        run_dir, targets = _resumable(_run_dir(resume), record, config, k)
        if not targets:  # stopped after its last test had finished: a session that runs nothing completes it
            events.emit("run", run=run_dir.name, folder=run_dir.resolve())
            RunRecorder(run_dir, {}, resume=True).finish(0, None)
            completed = _finish_run(run_dir, report=report, event=seal.RESUMED)
            events.emit("ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=0, kind=completed.words)
            raise typer.Exit(0)
    else:
        run_dir = new_run_dir(project.reports(), config.path.stem)
        targets = [str(project.safety_suites())] + (["-k", k] if k else [])
    # pytest runs in the project root, and the record keeps these paths as they are from there
    shown_dir = project.shown(run_dir)
    command = _suites_pytest(
        *targets,
        "--rig",
        str(project.shown(rig)),
        "--specs",
        str(project.shown(specs)),
        "--hil-run-dir",
        str(shown_dir),
        "--alluredir",
        str(shown_dir / "allure-results"),
        "-rA",
        *ctx.args,
    )
    if resume:
        command.append("--hil-resume")
    if config.emulated:  # a backstop against a hung emulated test; a bench test may rightly run for days
        command += ["--timeout", str(EMULATED_TEST_TIMEOUT_S)]
    out.print(f"run {run_dir.name}: {' '.join(command[1:])}", markup=False)
    events.emit("run", run=run_dir.name, folder=run_dir.resolve())
    if config.rehearsal:
        out.print(f"{REHEARSAL_NOTE}; the emulator and the rig clock at ×{config.speed:g} real time", markup=False)

    def say(line: str) -> None:
        err.print(line, markup=False)

    with signals_held(say, "sealing the run"):  # run_pytest forwards them meanwhile; after it, they are held
        child = run_pytest(command, say, cwd=project.root(), env=_children_env())
        record = _record(run_dir)
        if held is not None:
            held.pump_stopped = _pump_left_stopped(child, record)
        if not (record and (record["tests"] or record.get("rig") or record.get("safety_actions"))):
            _discard_empty_run(run_dir, child, _unknown_ids(k, specs))
            events.emit("discarded", run=run_dir.name, exit_status=child.exit_status)
            raise typer.Exit(child.exit_status)
        interrupted = child.signal is not None or bool(record.get("interrupted"))
        if finish_abandoned(
            run_dir,
            child.exit_status,
            {"signal": child.signal.name if child.signal else None, "test": None} if interrupted else None,
            killed=child.killed,
        ):
            say(f"hil: pytest ended (exit {child.exit_status}) without finishing the record: finished it")
        if tool_validation:
            write_record(run_dir, (_record(run_dir) or {}) | {"tool_validation": json.loads(tool_validation)})
        problems = _trace_gate(run_dir, specs)
        kind: run_kind.RunKind | None = None
        try:
            if unit_dir is None:
                event = seal.RESUMED if resume else seal.SEALED
                kind = _finish_run(run_dir, report=report, event=event)
            unsealed = 0
        except typer.Exit as exc:  # not sealed (said already): an interrupted run still exits as interrupted
            unsealed = exc.exit_code
    for problem in problems:
        err.print(f"TRACE GATE: {problem}", markup=False)
    if interrupted and unit_dir is None:
        err.print(
            f"hil: run INTERRUPTED by {child.signal.name if child.signal else 'a signal'}: "
            + ("sealed as an interrupted run" if not unsealed else "NOT sealed")
            + f"; resume it: hil verify --resume {run_dir.name}",
            markup=False,
        )
    code = child.exit_status or unsealed or (1 if problems else 0)
    events.emit(
        "ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=code, kind=kind.words if kind else None
    )
    raise typer.Exit(code)


def _plan_places(
    config, places: list[str], k: str | None, split: bool, run_dir: Path
) -> tuple[dict[str, Path], dict[str, str | None]]:
    """Each place's rig file, written into the run and validated, and the -k selection each place runs."""
    rigs = {place: places_plan.unit_rig_file(run_dir / "rigs", config, place, i) for i, place in enumerate(places)}
    for path in rigs.values():
        load_rig(path)
    if not split:
        return rigs, dict.fromkeys(places, k)
    plan = places_plan.split(list(collect_trace(k)), places, project.reports() / "runs")
    (run_dir / "split.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
    return rigs, {place: places_plan.selection(nodes, k) for place, nodes in plan.items() if nodes}


def _verify_places(
    ctx: typer.Context, config, specs: Path, k, report: bool, text: str, split: bool, wait: float
) -> None:
    """`hil verify --places`: one `hil verify` per place at once (each acquires its place, runs, stops its pump and
    gives the place back), into units/<place>/ of one run; then every requirement they ran judged across the
    units, one report, one seal."""
    try:
        places = places_plan.parse(text, config)
    except places_plan.PlacesError as exc:
        err.print(f"hil: {exc}", markup=False)
        raise typer.Exit(1) from None
    requirements = load_requirements([specs], config.claims)
    started = utc_now()
    run_dir = new_run_dir(project.reports(), config.path.stem)
    received: list[signal.Signals] = []
    try:
        with _signals_interrupt(received):
            rigs, selections = _plan_places(config, places, k, split, run_dir)
    except RigConfigError as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        shutil.rmtree(run_dir, ignore_errors=True)
        signum = received[0] if received else signal.SIGINT
        err.print(f"hil: {signum.name} while planning the run on {text}: nothing ran", markup=False)
        raise typer.Exit(128 + signum.value) from None
    if not selections:  # --split of a selection with no test
        shutil.rmtree(run_dir, ignore_errors=True)
        err.print(f"hil: no test selected{f' by -k {k!r}' if k else ''}: nothing to run on {text}", markup=False)
        raise typer.Exit(5)
    commands = [
        [sys.executable, "-m", "hil.cli", "verify", "--rig", str(rigs[place]), "--specs", str(specs)]
        + ["--unit-dir", str(run_dir / "units" / place)]
        + (["-k", selection] if selection else [])
        + (["--wait", f"{wait:g}"] if wait else [])
        + ctx.args
        for place, selection in selections.items()
    ]
    out.print(
        f"run {run_dir.name}: {config.rig_id} on {len(selections)} place(s) at once"
        + (", the tests split over them" if split else ", a pump unit each")
        + f": {', '.join(selections)}",
        markup=False,
    )
    events.emit("run", run=run_dir.name, folder=run_dir.resolve())
    (run_dir / "units").mkdir()
    logs = {place: open(run_dir / "units" / f"{place}.out", "w", encoding="utf-8") for place in selections}
    names = list(selections)

    def relay(index: int, line: str) -> None:
        logs[names[index]].write(line + "\n")
        logs[names[index]].flush()
        out.print(f"[{names[index]}] {line}", markup=False)

    def say(line: str) -> None:
        err.print(line, markup=False)

    with signals_held(say, "sealing the run"):
        try:
            outcomes = run_children(
                commands, say, ABORT_GRACE_S + 120, cwd=project.root(), env=_children_env(), relay=relay
            )
        finally:
            for log in logs.values():
                log.close()
        records = {
            place: record
            for place in selections
            if (run_dir / "units" / place / "record.json").exists() and (record := _record(run_dir / "units" / place))
        }
        interrupted = next((o.signal for o in outcomes if o.signal is not None), None)
        if records:  # a place that ran nothing (held by someone, say) is in the table as not run
            records = {place: records.get(place) or {"tests": {}} for place in selections}
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
            err.print(f"hil: no test ran on any place: nothing sealed, {run_dir} removed", markup=False)
            code = 128 + interrupted.value if interrupted else max(o.exit_status for o in outcomes) or 5
            events.emit("discarded", run=run_dir.name, exit_status=code)
            raise typer.Exit(code)
        ran = sorted({rid for r in records.values() for test in r["tests"].values() for rid in test["requirements"]})
        across = [units.judge(requirements[rid], records) for rid in ran if rid in requirements]
        table = units.table_text(across)
        (run_dir / "across-units.txt").write_text(table, encoding="utf-8")
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
        exit_statuses = {place: outcome.exit_status for place, outcome in zip(selections, outcomes, strict=True)}
        write_record(run_dir, units.places_record(run_dir.name, config, records, exit_statuses, across, started, split))
        kind: run_kind.RunKind | None = None
        try:
            kind = _finish_run(run_dir, report=report)
            unsealed = 0
        except typer.Exit as exc:
            unsealed = exc.exit_code
    out.print(table, markup=False)
    undecided = [a.requirement.id for a in across if a.verdict is not Verdict.PASS]
    if undecided:
        err.print(f"hil: not PASS across units: {', '.join(undecided)} (across-units.txt)", markup=False)
    if interrupted:
        err.print(
            f"hil: run INTERRUPTED by {interrupted.name}: "
            + ("NOT sealed" if unsealed else "sealed as an interrupted run"),
            markup=False,
        )
    failed = next((o.exit_status for o in outcomes if o.exit_status), 0)
    code = 128 + interrupted.value if interrupted else failed or unsealed or (1 if undecided else 0)
    events.emit(
        "ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=code, kind=kind.words if kind else None
    )
    raise typer.Exit(code)


def _resumable(run_dir: Path, record: dict | None, config, k: str | None) -> tuple[Path, list[str]]:
    """The run folder and the test node ids a resumed session runs; exit 1 with the reason when the run cannot
    be resumed (ended complete, evidence changed, other requirement or claims files, another rig), before anything
    runs or is written."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        if record is None:
            raise resuming.ResumeRefused(f"{run_dir} has no record to resume")
        if k:
            raise resuming.ResumeRefused("-k does not go with --resume: the run's own selection is resumed")
        left = resuming.remaining(record, run_dir, ledger_path)
        resuming.same_judging(record, config.claims)
        with Rig(config) as opened:
            resuming.same_rig(record, config, opened.identities, opened.driver_provenance())
    except resuming.ResumeRefused as exc:
        err.print(f"resume refused: {exc}", markup=False)
        raise typer.Exit(1) from None
    except RigError as exc:
        err.print(f"resume refused: the rig did not open to be identified: {exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"resume {run_dir.name}: session {len(record.get('sessions', [])) + 1}, {len(left)} test(s) left of "
        f"{len(record.get('selected', {}))}",
        markup=False,
    )
    return run_dir, left


def _discard_empty_run(run_dir: Path, child, hint: str) -> None:
    """A session that ran no test and never opened the rig (nothing selected, -k or --lf matching nothing, a
    usage error) leaves no evidence worth sealing: its folder goes, reports/latest stays. hint: what in -k names
    no requirement."""
    why = {5: "no test selected"}.get(child.exit_status, f"pytest exited with {child.exit_status}")
    shutil.rmtree(run_dir, ignore_errors=True)
    err.print(
        f"hil: no test ran ({why}{hint}): nothing sealed, {run_dir} removed, reports/latest unchanged", markup=False
    )


def _unknown_ids(k: str | None, specs: Path) -> str:
    """The requirement ids a -k expression names that no requirement file has, each with the closest ones."""
    try:
        known = sorted(load_requirements([specs]))
    except SpecError:
        return ""
    said = []
    for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z0-9]+)+", k or ""):
        if word.upper() not in known and not any(rid.startswith(word.upper()) for rid in known):
            close = difflib.get_close_matches(word.upper(), known, n=3, cutoff=0.6)
            said.append(f"no requirement {word}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    return ": " + ", ".join(said) if said else ""


def _run_claims(run_dir: Path, record: dict) -> Path | None:
    """The claims file a run was judged against, as the run keeps it (None: a run from before claims, judged
    against the reference pump's figures)."""
    claims = record.get("claims")
    return Path(run_dir) / claims["copy"] if claims else None


def _trace_gate(run_dir: Path, specs: Path) -> list[str]:
    """The traceability matrix of this run, written into it and into its report; its problems fail the run."""
    record = _record(run_dir)
    if record is None:
        return [f"{run_dir}: no record.json (pytest did not start the run)"]
    # the suites as this run collected them (a record from before "collected" was kept: collected anew)
    requirements = load_requirements([specs], _run_claims(run_dir, record))
    matrix = traceability.build(requirements, record.get("collected") or collect_trace(), record)
    text = traceability.as_text(matrix)
    (run_dir / "traceability.txt").write_text(text, encoding="utf-8")
    (run_dir / "traceability.json").write_text(
        json.dumps({"rows": matrix.rows, "problems": matrix.problems, "notes": matrix.notes}, indent=1),
        encoding="utf-8",
    )
    table = traceability.bound_table(matrix, record)
    (run_dir / "traceability.csv").write_text(table, encoding="utf-8")
    gate = "; ".join(matrix.problems) or "passed: every requirement has a test, none unknown, none all skipped"
    reporting.add_document(
        run_dir,
        {
            "traceability-matrix.csv": table,
            "traceability-gate.txt": f"Traceability gate: {gate}\n\n{text}",
            "decision-rule.txt": DECISION_RULE + "\n",
        },
    )
    return matrix.problems


def _finish_run(run_dir: Path, event: str = seal.SEALED, report: bool = True) -> run_kind.RunKind:
    """Say in the record what the run is (hil.evidence.run_kind), then the report (unless report is False), the
    manifest, the seal into the ledger (signed with HIL_SIGNING_KEY when set) and reports/latest, which never
    points at a run that stopped at setup (it holds no evidence of the pump). Returns the run's kind; a folder
    without a readable run record is not sealed (exit 1)."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        key = seal.signing.key_from_env()
    except seal.signing.SigningKeyError as exc:
        err.print(
            f"NOT SEALED: {seal.signing.KEY_ENV}: {exc} (fix it, then `hil report {run_dir}` seals the run)",
            markup=False,
        )
        raise typer.Exit(1) from None
    record = _record(run_dir)
    if record is None:
        err.print(f"NOT SEALED: {run_dir} has no record.json: nothing says what the run was", markup=False)
        raise typer.Exit(1)
    try:
        kind = run_kind.of(record)
    except (AttributeError, TypeError, KeyError) as exc:  # a record edited out of shape
        err.print(
            f"NOT SEALED: {run_dir / 'record.json'} is not a run record ({type(exc).__name__}: {exc})", markup=False
        )
        raise typer.Exit(1) from None
    record["run_kind"] = kind.as_record()
    write_record(run_dir, record)
    _write_outputs(run_dir, record)
    if report:
        try:
            index = reporting.generate_report(
                run_dir,
                record,
                kind,
                reporting.environment(record) | seal.shown_in_report(ledger_path, key),
                seal.seals_of(run_dir.name, ledger_path),
                history=project.reports() / "history" / f"{report_input.history_name(record, _rig_id(record))}.jsonl",
            )
            out.print(f"report: {index}", markup=False)
        except reporting.ReportError as exc:
            err.print(f"report not generated: {exc}", markup=False)
        except (KeyError, TypeError, AttributeError) as exc:  # a record that lacks what the report shows
            err.print(f"report not generated: {run_dir / 'record.json'} lacks {exc}", markup=False)
    try:
        sealed = seal.seal_run(run_dir, ledger_path, kind, event=event, key=key)
    except seal.SealError as exc:
        err.print(f"NOT SEALED: {run_dir}: {exc}", markup=False)
        raise typer.Exit(1) from None
    latest = kind.ending is not run_kind.Ending.STOPPED_AT_SETUP
    if latest:
        reporting.point_latest(project.reports(), run_dir)
    entry = sealed.entry
    signer = f"signed by ed25519:{entry.fields['public_key']}" if key else "unsigned"
    out.print(
        f"manifest: {sealed.files} files hashed in {run_dir / seal.MANIFEST}; "
        + (f"reports/latest → {run_dir}" if latest else "reports/latest unchanged: the run stopped at setup"),
        markup=False,
    )
    out.print(
        f"manifest sha256: {entry.fields['manifest_sha256']} (it seals the run: {kind.words}, "
        f"{entry.fields['evidence']}, {signer}, chained into the ledger {ledger_path}:{entry.line})",
        markup=False,
    )
    return kind


def _write_outputs(run_dir: Path, record: dict) -> None:
    """The installed outputs of the finished run (hil.run.outputs: junit.xml and a lab's own), on its record as the
    published schema types it. Exit 1, not sealed, when one changed the record or a test's evidence."""
    for written in outputs.write_all(run_dir, record):
        if written.changed:
            err.print(
                f"NOT SEALED: the output {written.name} changed what the run recorded ({'; '.join(written.changed)})",
                markup=False,
            )
            raise typer.Exit(1)
        if written.error:
            what = "outputs not written" if written.name == "outputs" else f"output {written.name} failed"
            err.print(f"{what}: {written.error}", markup=False)
        elif written.path:
            out.print(f"{written.name}: {written.path}", markup=False)


def _rig_id(record: dict) -> str:
    """The rig's id as the validated rig file gave it, never a path from an edited record (it names a file)."""
    rig_id = str((record.get("rig") or {}).get("id") or "")
    return rig_id if re.fullmatch(RIG_ID_PATTERN, rig_id) else "unknown-rig"


def _run_dir(run: str | None) -> Path:
    try:
        return reporting.resolve_run(project.reports(), run)
    except reporting.ReportError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None


@rig_app.command("check")
def rig_check(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    k: str | None = typer.Option(None, "-k", help="pytest -k expression: the campaign to check for"),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
):
    """Preflight before a campaign: the balance's resolution against every selected requirement, calibration
    and blank-run dates, then the rig itself (identities, the pump's state, alarms and STOP, a stable reading
    per balance, the actuators), and the campaign's rig time from earlier runs. Exits 1 on any blocker."""
    rig, specs = rig or project.default_rig(), specs or project.specs()
    try:
        config = load_rig(rig)
        requirements = load_requirements([specs], config.claims)
    except (SpecError, RigConfigError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    selected, needs = _collect(k, needs=True)
    ids = sorted({rid for rids in selected.values() for rid in rids})
    checks = preflight.fitness(config, [requirements[rid] for rid in ids if rid in requirements])
    checks += preflight.capabilities(config, needs)
    checks += preflight.dates(config, date.today())
    try:
        with Rig(config) as opened:
            checks += preflight.instruments(opened)
    except RigError as exc:
        checks.append(preflight.Check("rig", f"cannot open: {exc}", preflight.Status.BLOCKER))
    checks.append(preflight.duration(list(selected), project.reports() / "runs"))
    table = Table(title=f"preflight: {config.rig_id} ({rig}), {len(selected)} tests, {len(ids)} requirements")
    for column in ("check", "found", "status"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = {"ok": "green", "warning": "bold yellow", "BLOCKER": "bold red"}.get(check.status, "")
        status = f"[{style}]{check.status}[/]" if style else str(check.status)
        table.add_row(escape(check.item), escape(check.found), status)  # "window_h=1" in brackets is not markup
    out.print(table)
    blockers = [c for c in checks if c.status is preflight.Status.BLOCKER]
    for warning in (c for c in checks if c.status is preflight.Status.WARNING):
        out.print(f"preflight warning: {warning.item}: {warning.found}", markup=False)
    out.print(
        f"preflight: {len(blockers)} blocker(s)"
        + (": " + "; ".join(c.item for c in blockers) if blockers else ": the rig is fit to start the campaign"),
        markup=False,
    )
    raise typer.Exit(1 if blockers else 0)


@driver_app.command("check")
def driver_check(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    device: list[DeviceKind] | None = typer.Option(
        None, "--device", help="the devices to check (default: all the rig has)"
    ),
):
    """The rig's drivers against their contracts (hil.drivers.contracts): the pump's commands, STOP accepted
    twice, typed status and events, history, CGM input; each balance's readings, tare and zero; the valve and
    site fixture reaching each state. A conformance table; exit 1 on any miss. The pump is commanded: run it on
    an emulated rig, or on a pump connected to no one."""
    try:
        config = load_rig(rig or project.default_rig())
    except RigConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    try:
        with Rig(config) as opened:
            found = conformance.checks(opened, set(device or DeviceKind))
    except RigError as exc:
        err.print(f"driver check: the rig did not open: {exc}", markup=False)
        raise typer.Exit(1) from None
    drivers = ", ".join(f"{'.'.join(path)} {config.driver_name(path)}" for path in config.drivers())
    table = Table(title=f"driver conformance: {config.rig_id} ({config.path})\n{drivers}")
    for column in ("device", "check", "found", "status"):
        table.add_column(column, overflow="fold")
    for check in found:
        style = {"ok": "green", "MISS": "bold red"}.get(check.status, "")
        table.add_row(
            check.device, check.item, check.found, f"[{style}]{check.status}[/]" if style else str(check.status)
        )
    out.print(table)
    misses = [c for c in found if c.status is conformance.Status.MISS]
    for miss in misses:
        err.print(f"MISS {miss.device} {miss.item}: {miss.found}", markup=False)
    out.print(
        f"driver check: {len(found) - len(misses)} of {len(found)} checks met"
        + (f", {len(misses)} missed" if misses else ""),
        markup=False,
    )
    raise typer.Exit(1 if misses else 0)


@driver_app.command("needs")
def driver_needs():
    """Which requirements need which pump capability (a test's `needs` marker, or a metric its bounds use), as the
    Markdown table of docs/drivers.md §3: what a driver that does not declare one leaves unverified."""
    collected, needs = _collect(None, needs=True)
    out.print(traceability.capability_table(collected, needs), markup=False, end="", soft_wrap=True)


@driver_app.command("list")
def driver_list():
    """The installed drivers (entry-point group hil.drivers): name, device, class, package, pump capabilities."""
    table = Table(title=f"drivers installed ({registry.ENTRY_POINT_GROUP} entry points)")
    for column in ("name", "device", "class", "package", "capabilities"):
        table.add_column(column, overflow="fold")
    broken = []
    for name, registered in registry.installed().items():
        try:
            cls = registry.driver_class(name)
        except registry.DriverError as exc:
            broken.append(str(exc))
            continue
        table.add_row(
            name, cls.device.label, registered.value, registered.package, ", ".join(sorted(registry.capabilities(cls)))
        )
    out.print(table)
    for problem in broken:
        err.print(f"driver list: {problem}", markup=False)
    raise typer.Exit(1 if broken else 0)


@rig_app.command("schema")
def rig_schema():
    """The rig file's JSON Schema for editors, with every installed driver's options (the shipped
    hil/rig/rig.schema.json has the built-in drivers')."""
    print(json.dumps(rig_model.json_schema(built_in_only=False), indent=2, ensure_ascii=False))


@app.command("blank-run")
def blank_run(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    hours: float = typer.Option(..., min=2.0, max=240.0, help="rig hours to weigh the vessel"),
    interval_s: float = typer.Option(60.0, min=1.0, max=3600.0, help="seconds between readings"),
):
    """The blank run: the collection vessel on the balance for HOURS with nothing delivered (the pump stopped),
    read every INTERVAL_S, raw readings kept in reports/blank-runs/<id>/. Prints the rate lost and its standard
    uncertainty (the spread of the hourly rates) as the rig file's `evaporation_correction:` lines."""
    try:
        config = load_rig(rig or project.default_rig())
    except RigConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    folder = new_run_dir(project.reports(), config.path.stem, folder="blank-runs")
    try:
        with Rig(config) as opened, CsvRecording(folder / "balance.csv", ["t_s", "mass_mg", "stable"]) as raw:
            opened.make_safe("blank run: nothing may be delivered")
            out.print(
                f"blank run {folder.name}: {hours:g} h of rig time, a reading every {interval_s:g} s", markup=False
            )
            series = delivery.record(opened, opened.clock.now(), hours * 3600.0, interval_s, raw)
    except RigError as exc:
        err.print(f"blank run stopped: {exc} (readings so far in {folder / 'balance.csv'})", markup=False)
        raise typer.Exit(1) from None
    try:
        rate, u_rate, segments = gravimetry.blank_run(series.t_s, series.mass_mg)
    except ValueError as exc:
        err.print(f"blank run {folder}: {exc}", markup=False)
        raise typer.Exit(1) from None
    today = date.today().isoformat()
    lines = (
        f"evaporation_correction:\n"
        f"  rate_mg_per_h: {rate:.4g}\n"
        f"  u_rate_mg_per_h: {u_rate:.2g}  # spread of {segments} hourly rates; repeat on other days and "
        f"take the larger spread\n"
        f"  source: blank run {folder.name}, {hours:g} h every {interval_s:g} s on {config.rig_id}\n"
        f'  measured: "{today}"\n'
        f"  # valid_days: the days your lab holds a blank run valid (required with measured)\n"
    )
    (folder / "evaporation_correction.yaml").write_text(lines, encoding="utf-8")
    out.print(lines, markup=False)
    out.print(f"raw readings: {folder / 'balance.csv'}", markup=False)


@app.command()
def validate(
    defects: Path | None = typer.Option(
        None,
        help="folder of seeded-defect rig files (default: the "
        "project's fixtures/rigs/defects/, else the reference ones)",
    ),
    nominal: Path | None = typer.Option(None, help=f"the nominal rig; {RIG_HELP}"),
    seeds: int = typer.Option(1, min=1, max=1000, help="campaigns per rig, each with its own emulator seed"),
    full_seeds: int | None = typer.Option(
        None,
        "--full-seeds",
        min=1,
        help="with --seeds N: every test on a defect rig's first M seeds only, on its others the tests of the "
        "requirements it declares (extra failures checked over M seeds, detection over N; the nominal rig runs every "
        "test on every seed; docs/validation.md, the --full-seeds paragraph); default: N",
    ),
    jobs: int = typer.Option(2, min=1, help="campaigns run side by side (on this machine; with --scheduler, ignored)"),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="a Dask scheduler's address (tcp://HOST:PORT): the campaigns run on its workers, started in the project "
        'folder on each machine (docs/validation.md, "Many machines"); default: this machine, --jobs at a time',
    ),
    only: list[str] | None = typer.Option(None, "--only", help="defect rig names to run (default: all)"),
    k: str | None = typer.Option(
        None,
        "-k",
        help="pytest -k expression: every campaign runs only the tests it selects, and each defect must fail exactly "
        "the requirements it declares among theirs",
    ),
    all_reports: bool = typer.Option(
        False,
        "--all-reports",
        help="build every campaign's HTML report, with its figures (default: the nominal rig's first campaign only, "
        "the one that holds the matrix; the others draw no figures, and `hil report RUN` builds their report)",
    ),
    report: bool = typer.Option(
        True,
        "--report/--no-report",
        help="the nominal rig's first campaign draws its figures and its HTML report shows the matrix (without: "
        "no campaign draws figures or builds a report; the matrix is in its files and attached to that run, whose "
        "report `hil report RUN` builds)",
    ),
):
    """Tool validation: the campaign on the nominal rig and on every seeded-defect rig, and the detection
    matrix (defect × requirement, expected vs observed). With --seeds N each rig runs N times, with the emulator
    seeds s, s+1, ... s+N-1 (s: the rig file's seed), and each cell is a count k/N with its one-sided 95 %
    confidence limit. Exits 1 unless, in every campaign, every defect is caught by exactly the requirements it
    declares and the nominal rig passes everything. The matrix goes to reports/validation/<id>/ and into the
    nominal run's report (with --no-report, into its audit/ for `hil report RUN`); the rig files of seeds after the
    first are kept there. Every campaign keeps its record, raw data and seal; the nominal rig's first campaign (with
    --all-reports, every campaign; with --no-report, none) draws its figures and gets its HTML report, the others
    draw none (the matrix reads verdicts; `hil verify --rig` on the campaign's rig file repeats it with them) and
    leave their report to `hil report RUN`."""
    if all_reports and not report:
        err.print("--all-reports and --no-report: choose one", markup=False)
        raise typer.Exit(2)
    try:
        plan = validate_run.plan(
            defects or project.defect_rigs(),
            nominal or project.default_rig(),
            only,
            seeds,
            full_seeds,
            k,
            collect_trace,
        )
    except validate_run.PlanError as exc:
        unknown = _unknown_ids(k, project.specs()) + ": no campaign run" if exc.exit_status == 5 else ""
        err.print(f"{exc}{unknown}", markup=False)
        raise typer.Exit(exc.exit_status) from None
    folder = new_run_dir(project.reports(), "validation", folder="validation")
    events.emit("validation", folder=folder.resolve())
    planned = validate_run.campaigns(plan, folder, report, all_reports, cluster.operator(scheduler))
    try:
        runs, attempts = cluster.run_all(planned.campaigns, jobs, scheduler, _campaign_done(len(planned.campaigns)))
    except cluster.ClusterError as exc:
        err.print(f"hil validate: {exc}", markup=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print(
            "hil validate: interrupted: no matrix; the campaigns running on this machine stopped their pumps and "
            "sealed their runs as interrupted (a run that had run nothing is discarded), the queued ones never started",
            markup=False,
        )
        raise typer.Exit(130) from None
    for campaign, ran in zip(planned.campaigns, runs, strict=True):
        if ran.run_id is None:
            err.print(
                f"{campaign.rig_file}: hil verify started no run ({ran.worker}):\n{ran.output_tail}", markup=False
            )
            raise typer.Exit(2)
    outcomes = validate_run.outcomes(plan, planned, runs, attempts)
    nominal_dir = project.reports() / "runs" / str(runs[0].run_id)
    text = validate_run.write_matrix(folder, nominal_dir, outcomes, plan.scope)
    _finish_run(nominal_dir, event=seal.REBUILT if report else seal.ATTACHED, report=report)  # with the matrix
    if plan.selected is not None:
        out.print(f"the tests -k {k!r} selects, judging {len(plan.selected)} requirement(s)", markup=False)
    out.print(text, markup=False)
    if report and not all_reports:
        out.print(
            f"HTML report: {nominal_dir / 'report' / 'index.html'}; every campaign's record, raw data and seal are in "
            "its run folder (detection-matrix.json), `hil report RUN` builds its HTML report (figures: --all-reports)",
            markup=False,
        )
    elif not report:
        out.print(f"no HTML report (--no-report): `hil report {nominal_dir}` builds the nominal run's", markup=False)
    out.print(f"validation: {folder}", markup=False)
    judged_by = validate_run.claims_judged_by(runs)
    if len(judged_by) > 1:
        err.print(
            "validation: its campaigns were judged against different claims files (a rig naming other claims): "
            "the nominal rig's clean run says nothing of the defect rigs' bounds",
            markup=False,
        )
    raise typer.Exit(0 if all(o.ok for o in outcomes) and len(judged_by) == 1 else 1)


def _campaign_done(total: int):
    """A line as each campaign ends: how many are done, the wall time so far and the ETA at the pace so far."""
    started = time.monotonic()

    def done(campaign: cluster.Campaign, ran: cluster.Ran, n: int) -> None:
        elapsed = time.monotonic() - started
        eta = datetime.now(UTC) + timedelta(seconds=elapsed / n * (total - n))
        out.print(
            f"validate: {n}/{total} campaigns done ({campaign.rig}"
            + (f" seed {campaign.seed}" if campaign.seed is not None else "")
            + f": {ran.run_id}), {elapsed / 60:.1f} min, ETA {eta:%H:%M} UTC",
            markup=False,
        )

    return done


@app.command("report")
def report_cmd(run: str | None = typer.Argument(None, help="run folder or id (default: reports/latest)")):
    """(Re)build the HTML report of a run and reseal it; refused when the run no longer matches its seal. A run
    that stopped before its seal (no manifest, not in the ledger) is sealed now, once every finished test's files
    are what its record hashed as the test ended: as complete when its record says it finished without an
    interrupt, as interrupted otherwise."""
    run_dir = _run_dir(run)
    ledger_path = seal.ledger.default_path(project.reports())
    entry = seal.last_entry(run_dir, ledger_path)
    if entry is None and not (run_dir / seal.MANIFEST).exists():
        record = _record(run_dir) or {"tests": {}}
        changed = changed_evidence(record, run_dir)
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            err.print(f"refused: {run_dir.name} was never sealed, and {changed[0]}{more}", markup=False)
            raise typer.Exit(1)
        _finish_run(run_dir)
        return
    if entry is not None and seal.sealed_folder(entry, ledger_path) != run_dir.resolve():
        err.print(
            f"refused: {run_dir} is a copy: the ledger seals {run_dir.name} at "
            f"{seal.sealed_folder(entry, ledger_path)}",
            markup=False,
        )
        raise typer.Exit(1)
    problems = seal.check_run(run_dir, ledger_path)
    if problems:
        more = f" (and {len(problems) - 1} more: hil evidence verify {run_dir})" if len(problems) > 1 else ""
        err.print(f"refused: {run_dir.name} no longer matches its seal: {problems[0]}{more}", markup=False)
        raise typer.Exit(1)
    assert entry is not None  # check_run reports a run that is not in the ledger
    _finish_run(run_dir, event=seal.REBUILT)


@evidence_app.command("verify")
def evidence_verify(
    run: str | None = typer.Argument(None, help="run folder or id (default: reports/latest)"),
    whole_ledger: bool = typer.Option(False, "--all", help="every run of the ledger, and the ledger"),
    key: Path | None = typer.Option(None, "--key", help="public key file every seal must be signed by"),
):
    """Check a run's files against its manifest, the manifest against its seal in the ledger, the ledger's chain
    and the signature. Every problem is named; exit 1 on any."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        trusted = seal.signing.load_public(key) if key else None
    except seal.signing.SigningKeyError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    if whole_ledger:
        runs, problems = seal.check_ledger(ledger_path, trusted, run_folders=(project.reports() / "runs",))
        ok = f"ok: the ledger {ledger_path} chains intact; each of its {runs} runs matches its last seal"
    else:
        run_dir = _run_dir(run)
        checked = run_record.check(run_dir)
        problems = seal.check_run(run_dir, ledger_path, trusted) + checked.problems
        ok = (
            f"ok: every file of {run_dir} matches its manifest, the manifest its seal in {ledger_path}, the chain "
            f"holds; {checked.said()}"
        )
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        err.print(f"{len(problems)} problem(s)", markup=False)
        raise typer.Exit(1)
    out.print(ok, markup=False)


@evidence_app.command("keygen")
def evidence_keygen(
    path: Path = typer.Argument(..., help="private key file to create (mode 0600); the public key goes to PATH.pub"),
):
    """Create an operator's Ed25519 signing key. Seals are signed while HIL_SIGNING_KEY names it."""
    try:
        public_path, public = seal.signing.generate(path)
    except seal.signing.SigningKeyError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"private key: {path} (0600; keep it off shared disks)\npublic key: {public_path}: ed25519:{public}\n"
        f"sign seals: export {seal.signing.KEY_ENV}={path.resolve()}",
        markup=False,
    )


def main() -> None:
    cluster.stop_with_parent()
    try:
        app()
    except SystemExit as exc:  # how typer ends every command
        events.close(exc.code if isinstance(exc.code, int) else 1)
        raise
    except KeyboardInterrupt:
        events.close(130)
        raise
    except BaseException:
        events.close(1)
        raise


if __name__ == "__main__":
    main()
