import functools
import http.server
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HIL = str(Path(sys.executable).parent / "hil")

# The files that take longest, first: scripts/test.sh shares the tests out a file at a time on three workers
# (pytest-xdist --dist loadfile, in collection order with --no-loadscope-reorder), so the validation's campaigns
# start at once on one worker while the others work through everything else, instead of after the unit tests.
LONGEST_FIRST = (
    "tests/system/test_campaigns.py",  # hil validate: every rig's campaign
    "tests/system/test_validation_seeds.py",
    "tests/system/test_rig_kinds.py",
    "tests/system/test_rehearsal.py",
    "tests/system/test_lab.py",
    "tests/system/test_wire_faults.py",  # one test: every wire fault in turn, over a minute
    "tests/system/test_abort.py",
    "tests/system/test_installed_wheel.py",
    "tests/system/test_resume.py",
)


def pytest_collection_modifyitems(session, config, items):
    """The whole session's items (unit tests included), LONGEST_FIRST's files first, each in its own order."""

    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


def events(stdout: str) -> list[dict]:
    """What `hil --json` said of its run on stdout (hil/run/events.py): one JSON object a line, nothing else."""
    return [json.loads(line) for line in stdout.split("\n")[:-1]]  # whole lines only: one may be half written


def event_folder(stdout: str, event: str = "run") -> Path | None:
    """The folder of the run (or, event="validation", of the validation) `hil --json` opened; None: none."""
    return next((Path(e["folder"]) for e in events(stdout) if e["event"] == event), None)


class Verify:
    """One `hil --json verify` run, the way a user starts it, from the project root: its run found from its events,
    its console (stderr) in `output`."""

    def __init__(self, completed: subprocess.CompletedProcess):
        self.code = completed.returncode
        self.output = completed.stdout + completed.stderr
        run_dir = event_folder(completed.stdout)
        assert run_dir, f"hil verify opened no run:\n{self.output[-3000:]}"
        self.run_dir = run_dir
        self.record = json.loads((self.run_dir / "record.json").read_text())

    def requirements_with(self, outcome: str) -> set[str]:
        return {rid for test in self.record["tests"].values() if test["outcome"] == outcome for rid in test["requirements"]}


@pytest.fixture(scope="session")
def verify():
    def run(*args: str, timeout: float = 900) -> Verify:
        return Verify(subprocess.run([HIL, "--json", "verify", *args], cwd=ROOT, capture_output=True, text=True,
                                     timeout=timeout))

    return run


@dataclass
class Running:
    """`hil --json ARGS` started as a terminal would (start_hil): the process, the run folder its first event named,
    and the file its console goes to (stderr; read it once the process has ended)."""

    proc: subprocess.Popen
    run_dir: Path
    console: Path

    def finish(self, timeout: float) -> str:
        """Wait for the process to end; its console output."""
        self.proc.communicate(timeout=timeout)
        return self.console.read_text()


def start_hil(*args: str, timeout_s: float = 300, **popen) -> Running:
    """`hil --json ARGS` from the project root, waited for (at most timeout_s) until it has opened its run (its
    first event). Its console goes to a file under reports/consoles/ (kept with the run's other test artefacts)."""
    consoles = ROOT / "reports" / "consoles"
    consoles.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=consoles, prefix="hil-", suffix=".txt", delete=False) as sink:
        console = Path(sink.name)
        proc = subprocess.Popen([HIL, "--json", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=sink, text=True,
                                **popen)
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    first = proc.stdout.readline() if ready else ""
    run_dir = event_folder(first) if first else None
    if run_dir is None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        raise AssertionError(f"hil opened no run within {timeout_s:g} s (exit {proc.returncode}):\n"
                             f"{console.read_text()[-3000:]}")
    return Running(proc, run_dir, console)


def wait_for(predicate, timeout_s: float, what: str):
    """The predicate's first truthy value, polled every 50 ms; AssertionError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def open_report(run_dir: Path, *options: str) -> dict:
    """The run's report opened in headless Chromium (tests/system/report_in_browser.js, its options): what the
    overview, the tree, a tab and a test page show; that it asks no other host. Screenshots go to
    reports/screenshots/<run>*.png, artefacts."""
    assert (run_dir / "report" / "index.html").is_file(), f"{run_dir} has no report: {sorted(os.listdir(run_dir))}"
    shots = ROOT / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    screenshot = shots / f"{run_dir.name}.png"
    n = 1
    while screenshot.with_name(f"{screenshot.stem}-overview.png").exists():  # opened again: both sets kept
        n += 1
        screenshot = shots / f"{run_dir.name}-{n}.png"
    handler = functools.partial(_QuietHandler, directory=str(run_dir / "report"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:  # the single file needs http:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        done = subprocess.run(["node", str(ROOT / "tests" / "system" / "report_in_browser.js"), url, str(screenshot),
                               *options], cwd=ROOT, capture_output=True, text=True, timeout=600)
        server.shutdown()
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if seen.get("retries"):
        print(f"{run_dir.name}: the report's overview came in a new browser after {seen['retries']} without it: "
              f"{seen['stuck']}")
    assert "error" not in seen, seen.get("error")
    assert not seen.get("elsewhere"), f"the report asked other hosts: {seen['elsewhere']}"
    return seen
