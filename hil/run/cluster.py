"""`hil validate`'s campaigns on Dask (distributed): each campaign a task that runs `hil verify` in the worker's
project folder, as a user runs it, and returns its run id and record. By default the tasks run on a LocalCluster in
this process (`jobs` threads, one campaign each: nothing changes for a single machine); with a scheduler's address,
on the workers a lab has started on its machines from the same locked environment and a shared project folder
(docs/validation.md, "Many machines").

A worker lost mid-campaign has its campaign re-queued by the scheduler onto another worker (up to its
`allowed-failures`); every start of a campaign is logged on the scheduler (the worker, its host, the run it opened),
so the matrix names the workers lost and the runs they left behind.
"""

import ctypes
import getpass
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hil import project
from hil.run.pytest_child import ABORT_GRACE_S

STARTED = "hil-campaign-started"  # the scheduler's event topic: a campaign started, or opened its run
OUTPUT_TAIL = 2000  # characters of hil verify's output kept when it opened no run
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_ENV = "HIL_STOP_WITH_PARENT"  # in a campaign's hil verify: the pid of the worker that started it
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_running: set[subprocess.Popen] = set()  # this process's campaigns' hil verify (a LocalCluster's threads)
_running_lock = threading.Lock()


class ClusterError(Exception):
    """The scheduler cannot be reached, or a campaign could not be run (its worker lost too often, no run opened)."""


@dataclass(frozen=True)
class Campaign:
    """One `hil verify` of a validation: a rig with a seed, the tests -k selects, with or without its report."""

    validation_id: str
    rig: str  # the rig's name in the matrix ("nominal" or the defect rig's)
    seed: int | None  # None: the rig file's own
    rig_file: str  # relative to the project root when inside it (each worker resolves it in its own folder)
    report: bool
    k: str | None
    tool_validation: dict  # what the run's record says of the validation it belongs to
    operator: str = ""  # who runs the validation: the record's operator on every worker (HIL_OPERATOR)

    @property
    def key(self) -> str:
        """The task's name on the scheduler: unique within a validation, told apart from another validation's."""
        return f"hil-campaign-{self.validation_id}-{self.rig}-{'rig' if self.seed is None else self.seed}"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "hil.cli", "--json", "verify", "--rig", self.rig_file]
        command += [] if self.report else ["--no-report", "--no-figures"]  # figures where a report shows them
        command += ["--tool-validation", json.dumps(self.tool_validation)]
        return command + (["-k", self.k] if self.k is not None else [])


@dataclass(frozen=True)
class Ran:
    """What a campaign's task returned: the run it opened (None: none, with the output that says why)."""

    run_id: str | None
    record: dict | None
    worker: str
    host: str
    output_tail: str = ""


@dataclass
class Attempts:
    """Where a campaign started, in order (worker, host, the run it opened or None): all but the last were lost."""

    starts: list[dict] = field(default_factory=list)

    def lost(self) -> list[str]:
        """Each start whose worker was lost, said in a line."""
        return [
            f"worker {s['worker']} on {s['host']} lost mid-campaign"
            + (f" (its run {s['run']} left unfinished or interrupted)" if s.get("run") else "")
            + "; re-queued"
            for s in self.starts[:-1]
        ]


def run_campaign(campaign: Campaign) -> Ran:
    """The task: `hil verify` for the campaign in this worker's project folder; its run id and record."""
    worker, host = _worker_address(), socket.gethostname()
    _log_start({"campaign": campaign.key, "worker": worker, "host": host})
    root = project.root()
    rig = Path(campaign.rig_file)
    command = campaign.command()
    command[command.index("--rig") + 1] = str(rig if rig.is_absolute() else root / rig)
    env = {**os.environ, project.ROOT_ENV: str(root)}
    if campaign.operator:  # the user who runs the validation, not the account the worker runs under
        env["HIL_OPERATOR"] = campaign.operator
    env[PARENT_ENV] = str(os.getpid())
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as said:  # what it said, for a failure
        child = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=said, text=True)
        with _running_lock:
            _running.add(child)
        assert child.stdout is not None  # piped: its events (hil.run.events), one JSON object a line
        run_id = None
        try:
            for line in child.stdout:
                try:  # stdout holds nothing else (hil/run/events.py); a stray line is kept with what it said
                    event = json.loads(line)
                except ValueError:
                    said.write(line)
                    continue
                if isinstance(event, dict) and event.get("event") == "run":
                    run_id = event["run"]
                    _log_start({"campaign": campaign.key, "worker": worker, "host": host, "run": run_id})
            child.wait()
        finally:
            with _running_lock:
                _running.discard(child)
        if run_id is None:
            said.seek(0)
            return Ran(None, None, worker, host, said.read()[-OUTPUT_TAIL:])
    return Ran(run_id, _record(project.reports() / "runs" / run_id), worker, host)


def run_all(
    campaigns: list[Campaign], jobs: int, scheduler: str | None, done: Callable[[Campaign, Ran, int], None]
) -> tuple[list[Ran], dict[str, Attempts]]:
    """Every campaign as a task (on this machine's `jobs` threads, or on the scheduler's workers), `done` called as
    each ends (with how many have); the results in plan order, and where each campaign started. Interrupted (a
    signal), it waits for this machine's campaigns to stop their pumps and seal, as `hil verify` does; campaigns on
    a scheduler's workers run on to their end."""
    events: list[tuple[float, dict]] = []
    with _client(jobs, scheduler) as client:
        from distributed import as_completed

        client.subscribe_topic(STARTED, events.append)  # all of them: the scheduler keeps only its last 1000
        futures = [client.submit(run_campaign, c, key=c.key, pure=False) for c in campaigns]
        by_key = {c.key: c for c in campaigns}
        try:
            for n, future in enumerate(as_completed(futures), 1):
                ran = future.result()
                done(by_key[future.key], ran, n)
        except KeyboardInterrupt:
            client.cancel(futures)  # the queued ones never start
            _wait_for_local_campaigns()
            raise
        except Exception as exc:  # a task that raised, or KilledWorker: its worker lost more often than allowed
            client.cancel(futures)
            _wait_for_local_campaigns()
            raise ClusterError(f"a campaign could not be run: {type(exc).__name__}: {exc}") from None
        results = [future.result() for future in futures]
        seen = {(t, json.dumps(e, sort_keys=True)) for t, e in events}
        events += [(t, e) for t, e in client.get_events(STARTED) if (t, json.dumps(e, sort_keys=True)) not in seen]
        client.unsubscribe_topic(STARTED)
    starts: dict[str, Attempts] = {c.key: Attempts() for c in campaigns}
    for _, event in sorted(events, key=lambda item: item[0]):
        attempts = starts.get(str(event.get("campaign")))
        if attempts is None:
            continue
        if "run" in event and attempts.starts and attempts.starts[-1]["worker"] == event["worker"]:
            attempts.starts[-1]["run"] = event["run"]
        else:
            attempts.starts.append({"worker": event["worker"], "host": event["host"], "run": event.get("run")})
    return results, starts


def operator(scheduler: str | None) -> str:
    """Who runs the validation, for the workers of a scheduler, whose own account would be named instead (HIL_OPERATOR,
    else this user); on this machine the campaigns have this environment already (and a rig file's operator)."""
    return os.environ.get("HIL_OPERATOR") or (getpass.getuser() if scheduler else "")


def stop_with_parent() -> None:
    """In a campaign's `hil verify` (hil.cli.main), first thing: SIGTERM when the worker that started it dies, so
    that a lost worker's campaign stops its pump and is sealed as interrupted, never finished unseen beside its
    re-queued copy (Linux's parent-death signal). The variable is taken out: `hil verify`'s own children are not
    campaigns."""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None or _LIBC is None:
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the worker died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)


def _wait_for_local_campaigns() -> None:
    """This machine's campaigns, told to stop (a terminal's Ctrl-C reached them already; SIGINT again is ignored
    by a `hil verify` already stopping), waited for while they stop their pumps and seal."""
    with _running_lock:
        children = list(_running)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=ABORT_GRACE_S + 60)
        except subprocess.TimeoutExpired:
            child.kill()


@contextmanager
def _client(jobs: int, scheduler: str | None) -> Iterator:
    from distributed import Client, LocalCluster

    if scheduler is None:  # threads of this process, each running its campaign's hil verify as before
        with (
            LocalCluster(
                n_workers=1,
                threads_per_worker=jobs,
                processes=False,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        if not client.scheduler_info().get("workers"):
            raise ClusterError(f"the Dask scheduler at {scheduler} has no workers")
        yield client


def _worker_address() -> str:
    from distributed import get_worker

    return get_worker().address


def _log_start(event: dict) -> None:
    from distributed import get_worker

    get_worker().log_event(STARTED, event)


def _record(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
