"""`hil validate --scheduler`: the campaigns on a Dask scheduler's workers, each a separate process on loopback as a
lab's machines would run them (the same locked environment, the project folder shared), give the matrix the
campaigns give on this machine; a worker lost mid-campaign has its campaign re-queued, named in the matrix."""

import json
import os
import re
import signal
import subprocess
import time

import psutil
import pytest

from .conftest import HIL, ROOT, event_folder, wait_for

DASK = str(ROOT / ".venv" / "bin" / "dask")
DEFECT = "occlusion-alarm-medium"
SELECTED = "DA-BOLUS-001 or OC-PRIO-001"


def _validate(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([HIL, "--json", "validate", "--only", DEFECT, "-k", SELECTED, "--no-report", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done, json.loads((event_folder(done.stdout, "validation") / "detection-matrix.json").read_text())


def _judged(matrix: dict) -> tuple[list, list]:
    """What the matrix says of the rigs, without where and when each campaign ran."""
    runs = [{k: v for k, v in run.items() if k not in ("run", "worker", "requeued")} for run in matrix["runs"]]
    return runs, matrix["cells"]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-thread workers, each its own process (session) started in the project folder;
    killed at the end."""
    address_file = tmp_path / "scheduler.json"
    started = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                 "--scheduler-file", str(address_file)], cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(address_file.exists, 60, "the scheduler's address")
        time.sleep(0.5)  # written whole
        address = json.loads(address_file.read_text())["address"]
        for name in ("worker-a", "worker-b"):
            started.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "1", "--nthreads", "1",
                                             "--no-dashboard", "--name", name], cwd=ROOT, start_new_session=True,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        probe = "from distributed import Client; c = Client('%s', timeout=30); c.wait_for_workers(2, timeout=60)"
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", probe % address], check=True, timeout=120)
        yield address, started[1:]
    finally:
        for process in started:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=30)


def test_two_workers_give_the_local_matrix(cluster):
    address, _ = cluster
    _, local = _validate("--seeds", "2")
    done, remote = _validate("--seeds", "2", "--scheduler", address)
    assert _judged(remote) == _judged(local) and remote["ok"]
    workers = {run["worker"] for run in remote["runs"]}
    assert len(workers) == 2, workers  # both ran campaigns
    assert not any(run["requeued"] for run in remote["runs"]) and "re-queued" not in done.stderr
    assert all((ROOT / "reports" / "runs" / run["run"] / "record.json").is_file() for run in remote["runs"])
    # --no-report: no campaign drew figures or built a report; the matrix is attached to the nominal run for one
    nominal = ROOT / "reports" / "runs" / remote["runs"][0]["run"]
    assert "no HTML report (--no-report)" in done.stderr and not (nominal / "report").exists()
    assert [s["figures"] for s in json.loads((nominal / "record.json").read_text())["sessions"]] == [False]
    assert (nominal / "audit" / "detection-matrix.txt").is_file()
    checked = subprocess.run([HIL, "evidence", "verify", str(nominal)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0 and "audit documents attached" in (ROOT / "reports" / "ledger.jsonl").read_text()


def _command_line(process: psutil.Process) -> str:
    """Its command line; empty once it has ended (a campaign's short-lived children end between listing and asking)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return ""


def test_a_worker_lost_mid_campaign_has_its_campaign_requeued_and_named(cluster, tmp_path):
    address, workers = cluster
    console = tmp_path / "validate.txt"
    with open(console, "w") as sink:
        validation = subprocess.Popen([HIL, "--json", "validate", "--only", DEFECT, "-k", SELECTED, "--no-report",
                                       "--scheduler", address], cwd=ROOT, stdout=subprocess.PIPE, stderr=sink, text=True)
    try:
        def running() -> psutil.Process | None:  # a worker whose campaign has opened its rig (its emulator runs)
            for worker in workers:
                for child in psutil.Process(worker.pid).children(recursive=True):
                    if "hil.emulator" in _command_line(child):
                        return psutil.Process(worker.pid)
            return None

        wait_for(lambda: running() is not None, 120, "a campaign's rig open on a worker")
        lost = running()
        nanny_and_worker = [lost, *(p for p in lost.children() if "hil.cli" not in _command_line(p))]
        for process in nanny_and_worker:  # the worker's processes only: its campaign must stop with it
            process.kill()
        said, _ = validation.communicate(timeout=900)
        output = console.read_text()
    finally:
        if validation.poll() is None:
            validation.kill()
    assert validation.returncode == 0, output[-4000:]
    matrix = json.loads((event_folder(said, "validation") / "detection-matrix.json").read_text())
    requeued = [run for run in matrix["runs"] if run["requeued"]]
    assert len(requeued) == 1 and "lost mid-campaign" in requeued[0]["requeued"][0], matrix["runs"]
    assert "re-queued after their worker was lost" in output
    assert matrix["ok"] and {run["rig"] for run in matrix["runs"]} == {"nominal", DEFECT}
    left = re.search(r"its run (\S+) left", requeued[0]["requeued"][0]).group(1)
    record = json.loads((ROOT / "reports" / "runs" / left / "record.json").read_text())
    assert record["interrupted"]["signal"] == "SIGTERM", record["interrupted"]  # its pump stopped, sealed as such
