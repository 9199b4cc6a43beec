"""`hil --json`: a program that starts hil learns its run from stdout, which holds JSON events and nothing else
(hil/run/events.py); the console, pytest's output included, is on stderr."""

import subprocess

from .conftest import HIL, ROOT, events


def test_stdout_holds_the_runs_events_only_and_the_console_goes_to_stderr():
    done = subprocess.run([HIL, "--json", "verify", "-k", "DA-BOLUS-004", "--no-report", "--no-figures"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    started, ended = events(done.stdout)  # every line a JSON object, or this raises
    assert started == {"event": "run", "run": started["run"], "folder": str(ROOT / "reports" / "runs" / started["run"])}
    assert ended == {**started, "event": "ended", "exit_status": 0, "kind": "COMPLETE"}
    assert f"run {started['run']}: " in done.stderr and "PASSED tests/safety/test_dose_accuracy.py" in done.stderr


def test_a_run_that_ran_nothing_says_it_was_discarded():
    done = subprocess.run([HIL, "--json", "verify", "-k", "NO-SUCH-REQUIREMENT"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    started, discarded = events(done.stdout)
    assert discarded == {"event": "discarded", "run": started["run"], "exit_status": 5} == {**discarded, "exit_status": done.returncode}
    assert not (ROOT / "reports" / "runs" / started["run"]).exists() and "NO-SUCH-REQUIREMENT" in done.stderr
