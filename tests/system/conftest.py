import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HIL = str(Path(sys.executable).parent / "hil")


class Verify:
    """One `hil verify` run, the way a user starts it, from the project root."""

    def __init__(self, completed: subprocess.CompletedProcess):
        self.code = completed.returncode
        self.output = completed.stdout + completed.stderr
        match = re.search(r"^run (\S+):", self.output, re.M)
        assert match, f"hil verify printed no run id:\n{self.output[-3000:]}"
        self.run_dir = ROOT / "reports" / "runs" / match.group(1)
        self.record = json.loads((self.run_dir / "record.json").read_text())

    def requirements_with(self, outcome: str) -> set[str]:
        return {rid for test in self.record["tests"].values() if test["outcome"] == outcome for rid in test["requirements"]}


@pytest.fixture(scope="session")
def verify():
    def run(*args: str, timeout: float = 900) -> Verify:
        return Verify(subprocess.run([HIL, "verify", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout))

    return run


def wait_for(predicate, timeout_s: float, what: str):
    """The predicate's first truthy value, polled every 50 ms; AssertionError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
