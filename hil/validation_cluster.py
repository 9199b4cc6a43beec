"""`hil validate`'s campaigns on Dask (distributed): each campaign a task that runs `hil verify` in the worker's
project folder, as a user runs it, and returns its run id and record. By default the tasks run on a LocalCluster in
this process (`jobs` threads, one campaign each: nothing changes for a single machine); with a scheduler's address,
on the workers a lab has started on its machines from the same locked environment and a shared project folder
(docs/validation.md, "Many machines").

A worker lost mid-campaign has its campaign re-queued by the scheduler onto another worker (up to its
`allowed-failures`); every start of a campaign is logged on the scheduler (the worker, its host, the run it opened),
so the matrix names the workers lost and the runs they left behind.
"""

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hil import project

STARTED = "hil-campaign-started"  # the scheduler's event topic: a campaign started, or opened its run
OUTPUT_TAIL = 2000  # characters of hil verify's output kept when it opened no run


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

    @property
    def key(self) -> str:
        """The task's name on the scheduler: unique within a validation, told apart from another validation's."""
        return f"hil-campaign-{self.validation_id}-{self.rig}-{'rig' if self.seed is None else self.seed}"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "hil.cli", "verify", "--rig", self.rig_file]
        command += [] if self.report else ["--no-report", "--no-figures"]  # figures where a report shows them
        command += ["--tool-validation", json.dumps(self.tool_validation)]
        return command + (["-k", self.k] if self.k is not None else [])


@dataclass(frozen=True)
class Ran:
    """What a campaign's task returned: the run it opened (None: none, with the output that says why)."""

    key: str
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
            + (f" (its run {s['run']} left unfinished)" if s.get("run") else "")
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
    child = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None  # piped
    lines, run_id = [], None
    for line in child.stdout:
        lines.append(line)
        if run_id is None and (match := re.match(r"run (\S+):", line)):
            run_id = match.group(1)
            _log_start({"campaign": campaign.key, "worker": worker, "host": host, "run": run_id})
    child.wait()
    if run_id is None:
        return Ran(campaign.key, None, None, worker, host, "".join(lines)[-OUTPUT_TAIL:])
    return Ran(campaign.key, run_id, _record(project.reports() / "runs" / run_id), worker, host)


def run_all(
    campaigns: list[Campaign], jobs: int, scheduler: str | None, done: Callable[[Campaign, Ran, int], None]
) -> tuple[list[Ran], dict[str, Attempts]]:
    """Every campaign as a task (on this machine's `jobs` threads, or on the scheduler's workers), `done` called as
    each ends (with how many have); the results in plan order, and where each campaign started."""
    with _client(jobs, scheduler) as client:
        from distributed import as_completed

        futures = [client.submit(run_campaign, c, key=c.key, pure=False) for c in campaigns]
        by_key = {c.key: c for c in campaigns}
        try:
            for n, future in enumerate(as_completed(futures), 1):
                done(by_key[future.key], future.result(), n)
        except Exception as exc:  # a task that raised, or KilledWorker: its worker lost more often than allowed
            raise ClusterError(f"a campaign could not be run: {type(exc).__name__}: {exc}") from None
        results = [future.result() for future in futures]
        starts: dict[str, Attempts] = {c.key: Attempts() for c in campaigns}
        for _, event in client.get_events(STARTED):
            attempts = starts.get(event.get("campaign"))
            if attempts is None:
                continue
            if "run" in event and attempts.starts and attempts.starts[-1]["worker"] == event["worker"]:
                attempts.starts[-1]["run"] = event["run"]
            else:
                attempts.starts.append({"worker": event["worker"], "host": event["host"], "run": event.get("run")})
        return results, starts


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
