"""`hil verify` on one rig, its inputs valid and its place (if any) held: the run folder (new, resumed, or a unit of
a run across places), pytest on the safety suites as a child that stops the pump whatever ends it, the record
finished, the traceability gate and the seal. Abort signals are held from pytest's end until the run is sealed."""

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hil import project
from hil.errors import RigError
from hil.evidence import resume as resuming
from hil.evidence import run_kind, seal
from hil.evidence.run import RunRecorder, finish_abandoned, new_run_dir, write_record
from hil.evidence.run_kind import REHEARSAL_NOTE
from hil.rig.config import RigConfig
from hil.rig.rig import Rig
from hil.run import events
from hil.run.finish import finish, trace_gate
from hil.run.folder import read_record, resolve
from hil.run.place import Held, pump_left_stopped
from hil.run.pytest_child import ChildOutcome, run_pytest, signals_held
from hil.run.say import RunStop, Say
from hil.run.suites import children_env, pytest_command, unknown_ids

EMULATED_TEST_TIMEOUT_S = 900


@dataclass(frozen=True)
class OnRig:
    """What one `hil verify` on one rig runs."""

    config: RigConfig
    rig: Path
    specs: Path
    k: str | None
    report: bool
    pytest_args: list[str] = field(default_factory=list)  # passed on to pytest as given
    resume: str | None = None  # the interrupted run to continue (folder or id)
    record: dict | None = None  # its record
    unit_dir: Path | None = None  # one unit of a --places run, into that folder; the run across places seals it
    tool_validation: str | None = None  # the hil validate campaign this run is (JSON), said in its record and seal


def verify(request: OnRig, say: Say, held: Held | None = None) -> int:
    """The run, from its folder to its seal; the exit status `hil verify` ends with."""
    run_dir, targets = _folder_and_targets(request, say)
    if not targets:  # a resumed run stopped after its last test had finished: a session that runs nothing completes it
        return _complete_resumed(run_dir, request.report, say)
    command = _pytest_command(request, run_dir, targets)
    say.out(f"run {run_dir.name}: {' '.join(command[1:])}")
    events.emit("run", run=run_dir.name, folder=run_dir.resolve())
    if request.config.rehearsal:
        say.out(f"{REHEARSAL_NOTE}; the emulator and the rig clock at ×{request.config.speed:g} real time")
    with signals_held(say.err, "sealing the run"):  # run_pytest forwards them meanwhile; after it, they are held
        child = run_pytest(command, say.err, cwd=project.root(), env=children_env())
        record = read_record(run_dir)
        if held is not None:
            held.pump_stopped = pump_left_stopped(child, record)
        if not (record and (record["tests"] or record.get("rig") or record.get("safety_actions"))):
            _discard_empty_run(run_dir, child, unknown_ids(request.k, request.specs), say)
            events.emit("discarded", run=run_dir.name, exit_status=child.exit_status)
            return child.exit_status
        interrupted = child.signal is not None or bool(record.get("interrupted"))
        _finish_record(run_dir, child, interrupted, request.tool_validation, say)
        problems = trace_gate(run_dir, request.specs)
        kind, unsealed = _seal(request, run_dir, say)
        code = child.exit_status or unsealed or (1 if problems else 0)
        # said while signals are held, so that a second Ctrl-C cannot leave a sealed run said to be unsealed
        events.emit(
            "ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=code, kind=kind.words if kind else None
        )
    for problem in problems:
        say.err(f"TRACE GATE: {problem}")
    if interrupted and request.unit_dir is None:
        say.err(
            f"hil: run INTERRUPTED by {child.signal.name if child.signal else 'a signal'}: "
            + ("sealed as an interrupted run" if not unsealed else "NOT sealed")
            + f"; resume it: hil verify --resume {run_dir.name}"
        )
    return code


def _folder_and_targets(request: OnRig, say: Say) -> tuple[Path, list[str]]:
    """The run folder and what pytest runs in it: the selected suites, or a resumed run's tests left."""
    targets = [str(project.safety_suites())] + (["-k", request.k] if request.k else [])
    if request.unit_dir is not None:
        request.unit_dir.mkdir(parents=True, exist_ok=True)
        return request.unit_dir, targets
    if request.resume:
        return resumable(resolve(request.resume), request.record, request.config, request.k, say)
    return new_run_dir(project.reports(), request.config.path.stem), targets


def _pytest_command(request: OnRig, run_dir: Path, targets: list[str]) -> list[str]:
    # pytest runs in the project root, and the record keeps these paths as they are from there
    shown_dir = project.shown(run_dir)
    command = pytest_command(
        *targets,
        "--rig",
        str(project.shown(request.rig)),
        "--specs",
        str(project.shown(request.specs)),
        "--hil-run-dir",
        str(shown_dir),
        "--alluredir",
        str(shown_dir / "allure-results"),
        "-rA",
        *request.pytest_args,
    )
    if request.resume:
        command.append("--hil-resume")
    if request.config.emulated:  # a backstop against a hung emulated test; a bench test may rightly run for days
        command += ["--timeout", str(EMULATED_TEST_TIMEOUT_S)]
    return command


def _complete_resumed(run_dir: Path, report: bool, say: Say) -> int:
    events.emit("run", run=run_dir.name, folder=run_dir.resolve())
    RunRecorder(run_dir, {}, resume=True).finish(0, None)
    completed = finish(run_dir, say, report=report, event=seal.RESUMED)
    events.emit("ended", run=run_dir.name, folder=run_dir.resolve(), exit_status=0, kind=completed.words)
    return 0


def _finish_record(
    run_dir: Path, child: ChildOutcome, interrupted: bool, tool_validation: str | None, say: Say
) -> None:
    """The record as pytest left it, finished when pytest did not (killed, crashed), with the campaign it is."""
    if finish_abandoned(
        run_dir,
        child.exit_status,
        {"signal": child.signal.name if child.signal else None, "test": None} if interrupted else None,
        killed=child.killed,
    ):
        say.err(f"hil: pytest ended (exit {child.exit_status}) without finishing the record: finished it")
    if tool_validation:
        write_record(run_dir, (read_record(run_dir) or {}) | {"tool_validation": json.loads(tool_validation)})


def _seal(request: OnRig, run_dir: Path, say: Say) -> tuple[run_kind.RunKind | None, int]:
    """The run's kind once sealed (a unit of a run across places is not: that run seals it), and the exit status
    of a seal refused (said; an interrupted run still exits as interrupted)."""
    if request.unit_dir is not None:
        return None, 0
    try:
        return finish(run_dir, say, report=request.report, event=seal.RESUMED if request.resume else seal.SEALED), 0
    except RunStop as stop:
        say.err(stop.line)
        return None, stop.exit_status


def resumable(run_dir: Path, record: dict | None, config: RigConfig, k: str | None, say: Say) -> tuple[Path, list[str]]:
    """The run folder and the test node ids a resumed session runs; a RunStop with the reason when the run cannot
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
        raise RunStop(1, f"resume refused: {exc}") from None
    except RigError as exc:
        raise RunStop(1, f"resume refused: the rig did not open to be identified: {exc}") from None
    say.out(
        f"resume {run_dir.name}: session {len(record.get('sessions', [])) + 1}, {len(left)} test(s) left of "
        f"{len(record.get('selected', {}))}"
    )
    return run_dir, left


def _discard_empty_run(run_dir: Path, child: ChildOutcome, hint: str, say: Say) -> None:
    """A session that ran no test and never opened the rig (nothing selected, -k or --lf matching nothing, a
    usage error) leaves no evidence worth sealing: its folder goes, reports/latest stays. hint: what in -k names
    no requirement."""
    why = {5: "no test selected"}.get(child.exit_status, f"pytest exited with {child.exit_status}")
    shutil.rmtree(run_dir, ignore_errors=True)
    say.err(f"hil: no test ran ({why}{hint}): nothing sealed, {run_dir} removed, reports/latest unchanged")
