"""Start the emulator as a child process and learn its endpoints, with a deadline."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hil.errors import RigError

START_TIMEOUT_S = 20.0


class EmulatorProcess:
    """The emulator runs in its own session, so a terminal's Ctrl-C (SIGINT to the whole foreground process
    group) cannot kill it before the harness has stopped the pump; it exits when the harness's end of its
    stdin pipe closes, however the harness ends."""

    def __init__(self, rig_file: Path, module: str = "hil.emulator"):
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, str(rig_file), "--watch-stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.endpoints = self._read_endpoints()
        self.pid = self.process.pid

    def _read_endpoints(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        stdout, stderr = self.process.stdout, self.process.stderr
        assert stdout is not None and stderr is not None  # both piped
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                line = stdout.readline()
                if line:
                    try:
                        return json.loads(line)
                    except json.JSONDecodeError:
                        self.stop()
                        raise RigError(f"emulator printed {line[:200]!r} instead of its endpoints") from None
                self.process.wait(timeout=5)
                error = stderr.read().decode(errors="replace").strip().splitlines()
                raise RigError(
                    f"emulator exited with code {self.process.returncode} before it started: "
                    + (error[-1] if error else "no message")
                )
        self.stop()
        raise RigError(f"emulator did not report its endpoints within {START_TIMEOUT_S:g} s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """The emulator ended, and its session with it: a pump firmware it runs as a process of its own goes too,
        even when the emulator is killed before it could end it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session (start_new_session): what is left of it
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
