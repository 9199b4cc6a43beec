"""The wire-fault campaign: each fault on the pump link and on the balance link, injected by the emulator in the
middle of a recording, through `hil verify` as a user runs it. No fault may end in a false PASS, hang the run,
leave the pump without a STOP (or its failure unrecorded), or lose a raw row recorded before it."""

import csv
import io
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .conftest import HIL, ROOT, event_folder

NOMINAL = ROOT / "fixtures" / "rigs" / "emulator.yaml"
RUN_DEADLINE_S = 240.0  # wall time of one `hil verify`: a fault must end the run, not hang it
LINK_TIMEOUT_S = 2.0  # the nominal rig's timeout_s on the pump and balance links
TEST_DEADLINE_S = 30.0  # wall time of the test's setup, call and teardown: a few 2-s link timeouts at most
RIG, TRUE_PASS_OR_RIG = "rig", "a true PASS or rig"


@dataclass(frozen=True)
class Recording:
    test: str
    csv: str  # its raw rows
    time_column: int  # the rig-clock time by which a row is complete
    fault_at_s: float  # simulated seconds after the test's RESET (the emulator's t = 0, so also the rows' time)
    pump_skip: int = 0  # pump lines let through after fault_at_s before the fault (the wire fault's `skip`)


# DA-BOLUS-001: 25 boluses of 0.05 U, each weighed between two stable readings (S), ~1,600 simulated seconds and a
# few wall seconds; pump and balance both talk throughout (BOLUS, STATUS, S). Bolus 9 is weighed from 560 s to
# 622 s: the first balance line after 600 s is the stable reading that ends bolus 9; the pump's are the replies to
# STATUS (what it has delivered, read next to that weighing and next to the one that starts bolus 10; a query the
# driver repeats when its reply is lost, so skipped) and then to BOLUS 10, which is never repeated (not idempotent).
BOLUSES = Recording("DA-BOLUS-001", "boluses.csv", 3, 600.0, pump_skip=2)
# DA-BASAL-001: 12 h of immediate readings (SI) every 60 s; the fault comes 3 h in, with ~170 rows on disk.
BASAL = Recording("DA-BASAL-001", "balance.csv", 0, 3 * 3600.0)


@dataclass(frozen=True)
class Case:
    endpoint: str
    kind: str
    expected: str  # RIG, or TRUE_PASS_OR_RIG where the harness recovers with the data intact (see CASES)
    stop_ok: bool | None = True  # STOP acknowledged; False: its failure recorded; None: either
    seconds: float | None = None  # a stall's wall seconds
    recording: Recording = BOLUSES

    @property
    def name(self) -> str:
        return (f"{self.recording.test}-{self.endpoint}-{self.kind}" + (f"-{self.seconds:g}s" if self.seconds else ""))


CASES = [
    case
    for endpoint in ("pump", "balance")
    for case in (
        Case(endpoint, "corrupt", RIG),  # a non-ASCII byte: a CRC or MT-SICS parse error
        Case(endpoint, "drop", RIG),  # the answer to a command never comes (BOLUS is not retried: not idempotent)
        # The copy is never read as an answer (the pump's by its sequence tag, MT-SICS's as a line before the next
        # command), and a link that duplicates lines is a broken rig.
        Case(endpoint, "duplicate", RIG),
        Case(endpoint, "truncate", RIG),  # half a line without its terminator: no answer within the deadline
        # A device answering 1 s late is inside the links' 2-s timeout, which the rig file sets as the instrument's
        # allowed response time: not a fault, the harness waits, and the PASS must come with the fault-free rows.
        Case(endpoint, "stall", TRUE_PASS_OR_RIG, seconds=1.0),
        # Past the timeout: a transport error, not a late reading. The pump's STOP, sent at once, is answered when
        # the stall ends, within its retry or just after it: either way it is on record.
        Case(endpoint, "stall", RIG, stop_ok=None if endpoint == "pump" else True, seconds=5.0),
        Case(endpoint, "silent", RIG, stop_ok=endpoint != "pump"),  # a silent pump cannot acknowledge STOP
    )
] + [  # the balance's immediate readings during a basal recording (the pump is not asked anything meanwhile)
    Case("balance", kind, RIG, seconds=5.0 if kind == "stall" else None, recording=BASAL)
    for kind in ("corrupt", "drop", "duplicate", "truncate", "stall", "silent")
]


@dataclass
class Outcome:
    case: Case | None
    wall_s: float
    code: int
    output: str
    run_dir: Path
    test: dict
    stops: list[dict]
    rows: list[list[str]]
    wire_log: str


def _rig_file(directory: Path, case: Case | None, recording: Recording) -> Path:
    name = case.name if case else f"{recording.test}-none"
    fault = ""
    if case:
        fault = f"{{endpoint: {case.endpoint}, kind: {case.kind}, at_s: {recording.fault_at_s}"
        fault += f", skip: {recording.pump_skip}" if case.endpoint == "pump" else ""
        fault += f", seconds: {case.seconds}}}" if case.seconds else "}"
    path = directory / f"wire-fault-{name}.yaml"
    path.write_text(f"extends: {NOMINAL}\nrig_id: wire-fault-{name}\nemulator:\n  wire_faults: [{fault}]\n")
    return path


def _run(directory: Path, case: Case | None, recording: Recording = BOLUSES) -> Outcome:
    recording = case.recording if case else recording
    started = time.monotonic()
    done = subprocess.run([HIL, "--json", "verify", "--rig", str(_rig_file(directory, case, recording)), "-k",
                           recording.test, "--no-report", "--no-figures"], cwd=ROOT,
                          capture_output=True, text=True, timeout=RUN_DEADLINE_S)
    wall_s = time.monotonic() - started
    output = done.stderr
    run_dir = event_folder(done.stdout)
    assert run_dir, f"{case}: hil verify opened no run:\n{output[-3000:]}"
    record = json.loads((run_dir / "record.json").read_text())
    (nodeid, test), = record["tests"].items()
    (folder,) = (run_dir / "tests").iterdir()
    rows = list(csv.reader(io.StringIO((folder / recording.csv).read_text())))
    stops = [action for action in record["safety_actions"] if action["test"] == nodeid]
    return Outcome(case, wall_s, done.returncode, output, run_dir, test, stops, rows, (folder / "serial.log").read_text())


def _problems(outcome: Outcome, baseline: Outcome) -> list[str]:
    case, test, problems = outcome.case, outcome.test, []
    rig = test["outcome"] != "passed" and test["verdict"] != "PASS" and test["failure_class"] == "rig"
    true_pass = test["outcome"] == "passed" and test["verdict"] == "PASS" and outcome.rows == baseline.rows
    if not (rig or (case.expected == TRUE_PASS_OR_RIG and true_pass)):
        differ = " (rows differ from the fault-free run)" if outcome.rows != baseline.rows else ""
        problems.append(f"expected {case.expected}, got outcome={test['outcome']} verdict={test['verdict']} "
                        f"class={test.get('failure_class')}{differ}")
    if sum(phase["duration_s"] for phase in test["phases"].values()) > TEST_DEADLINE_S:
        problems.append(f"the test took over {TEST_DEADLINE_S:g} s")
    if not outcome.stops:
        problems.append("no STOP on record for the test")
    elif case.stop_ok is not None and outcome.stops[0]["ok"] != case.stop_ok:
        problems.append(f"STOP: {outcome.stops[0]['detail']}")
    at, column = case.recording.fault_at_s, case.recording.time_column
    before = [row for row in baseline.rows[1:] if float(row[column]) < at]  # complete before the fault
    if outcome.rows[: len(before) + 1] != baseline.rows[: len(before) + 1]:
        problems.append(f"rows recorded before the fault lost or changed: {len(outcome.rows) - 1} on disk, "
                        f"{len(before)} expected at least")
    # A stall leaves the wire log as it was (the same lines at the same simulated times) but costs wall time: the
    # harness waits it out, or gives up at its links' 2-s timeout.
    injected = test["phases"]["call"]["duration_s"] >= min(case.seconds, LINK_TIMEOUT_S) if case.kind == "stall" \
        else outcome.wire_log != baseline.wire_log
    if not injected:
        problems.append("the fault left no trace on the wire: not injected")
    return problems


def _table(outcomes: list[Outcome]) -> str:
    lines = [f"{'case':36} {'outcome':8} {'verdict':8} {'class':6} {'STOP':5} {'rows':>4} {'wall':>6}"]
    for o in outcomes:
        name = o.case.name if o.case else " ".join(o.test["requirements"]) + " fault-free"
        lines.append(f"{name:36} {o.test['outcome']:8} {o.test['verdict']:8} "
                     f"{str(o.test.get('failure_class')):6} {str(o.stops[0]['ok'] if o.stops else None):5} "
                     f"{len(o.rows) - 1:4d} {o.wall_s:5.1f}s")
    return "\n".join(lines)


def test_no_wire_fault_during_a_recording_ends_in_a_false_pass_a_hang_or_lost_rows(tmp_path):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        fault_free = {recording: pool.submit(_run, tmp_path, None, recording) for recording in (BOLUSES, BASAL)}
        runs = [pool.submit(_run, tmp_path, case) for case in CASES]
        baselines = {recording: run.result() for recording, run in fault_free.items()}
        outcomes = [run.result() for run in runs]
    table = _table([*baselines.values(), *outcomes]) + f"\ncampaign wall time {time.monotonic() - started:.0f} s"
    print(table)
    for baseline in baselines.values():
        assert baseline.code == 0 and baseline.test["verdict"] == "PASS", baseline.output[-3000:]
    problems = {o.case.name: _problems(o, baselines[o.case.recording]) for o in outcomes}
    assert not any(problems.values()), table + "\n" + "\n".join(
        f"{name}: {'; '.join(found)}" for name, found in problems.items() if found)
