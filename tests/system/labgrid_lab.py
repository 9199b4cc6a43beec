"""A labgrid lab on this machine, for the system tests and benchmarks/bench_lab.py: a coordinator, one exporter
per emulated bench (`hil emulate --labgrid-exporter`, labgrid's exporter starting ser2net on the emulator's ptys)
and a place per bench, all in a private network namespace with nothing but loopback (labgrid's exporter has
ser2net listen on every address: nothing of it is reachable from outside the machine). Every command of the lab
and of the tests runs inside the namespace (`run`, `start`)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COORDINATOR = "127.0.0.1:20408"  # what fixtures/rigs/lab-emulator*.yaml name
RESOURCES = ("pump", "balance", "balance-lost", "control")  # hil.rig.lab.EXPORTED_ENDPOINTS


def missing() -> str | None:
    """Why this machine cannot hold the lab, or None."""
    if os.geteuid() != 0:
        return "a network namespace needs root"
    for tool in ("ip", "ser2net"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (./scripts/setup.sh installs ser2net when run as root)"
    return None


@dataclass
class Started:
    process: subprocess.Popen
    out: Path
    err: Path

    def finish(self, timeout_s: float) -> tuple[int, str, str]:
        """Exit status, standard output and standard error, once it has ended."""
        code = self.process.wait(timeout=timeout_s)
        return code, self.out.read_text(), self.err.read_text()


class Lab:
    def __init__(self, folder: Path):
        self.folder = folder
        self.netns = f"hil-lab-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.processes: list[subprocess.Popen] = []
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        try:
            self.run("ip", "link", "set", "lo", "up", check=True)
            # ser2net binds every address it finds; with loopback alone it needs a second one to bind at all
            self.run("ip", "addr", "add", "127.0.0.2/8", "dev", "lo", check=True)
            self.coordinator = self.start("coordinator", str(BIN / "labgrid-coordinator"), "-l", COORDINATOR)
            self.client("places", timeout_s=30)  # answers once the coordinator listens
        except BaseException:
            self.close()
            raise

    def _in_netns(self, command: tuple[str, ...]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *command]

    def run(self, *command: str, check: bool = False, timeout: float = 900, env: dict | None = None,
            **options) -> subprocess.CompletedProcess:
        return subprocess.run(self._in_netns(command), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              check=check, env={**os.environ, **(env or {})}, **options)

    def start(self, name: str, *command: str, env: dict | None = None) -> subprocess.Popen:
        """A long-running process of the lab (its output in the lab's folder), in a session of its own."""
        log = open(self.folder / f"{name}.log", "w")
        process = subprocess.Popen(self._in_netns(command), cwd=self.folder if name == "coordinator" else ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **(env or {})})
        log.close()
        self.processes.append(process)
        return process

    def hil(self, name: str, *args: str) -> "Started":
        """`hil ARGS` in the lab, in a session of its own (a signal can go to its group, as a terminal's Ctrl-C),
        its output in files; stopped with the lab if a test leaves it running."""
        out, err = self.folder / f"{name}.out", self.folder / f"{name}.err"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            process = subprocess.Popen(self._in_netns((str(BIN / "hil"), *args)), cwd=ROOT, stdout=stdout,
                                       stderr=stderr, start_new_session=True)
        self.processes.append(process)
        return Started(process, out, err)

    def client(self, *args: str, timeout_s: float = 10, user: str | None = None) -> str:
        """labgrid-client against the lab's coordinator (retried until timeout_s while the lab comes up)."""
        env = {"LG_COORDINATOR": COORDINATOR, **({"LG_USERNAME": user} if user else {})}
        deadline = time.monotonic() + timeout_s
        while True:
            done = self.run(str(BIN / "labgrid-client"), *args, env=env, timeout=30)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.returncode == 0, f"labgrid-client {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def bench(self, place: str, rig: str = "fixtures/rigs/emulator.yaml") -> None:
        """An emulated bench exported as `place`: the emulator, its exporter, the place matching its resources."""
        config = self.folder / f"exporter-{place}.yaml"
        self.start(f"emulator-{place}", str(BIN / "hil"), "emulate", "--rig", rig, "--labgrid-exporter", str(config),
                   "--group", place)
        deadline = time.monotonic() + 60
        while not config.exists():
            assert time.monotonic() < deadline, (self.folder / f"emulator-{place}.log").read_text()
            time.sleep(0.05)
        self.start(f"exporter-{place}", str(BIN / "labgrid-exporter"), "--hostname", "127.0.0.1", "-n",
                   f"pc-{place}", "-c", COORDINATOR, str(config))
        self.client("-p", place, "create")
        for resource in RESOURCES:
            self.client("-p", place, "add-named-match", f"pc-{place}/{place}/NetworkSerialPort/{resource}", resource)
        deadline = time.monotonic() + 30
        while f"pc-{place}/{place}/NetworkSerialPort" not in self.client("resources"):
            assert time.monotonic() < deadline, (self.folder / f"exporter-{place}.log").read_text()
            time.sleep(0.2)

    def holder(self, place: str) -> str | None:
        """Who holds the place, as the coordinator says (None: free)."""
        for line in self.client("-p", place, "show").splitlines():
            if line.strip().startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                return None if value == "None" else value
        raise AssertionError(f"labgrid-client show printed no acquired: line for {place}")

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        subprocess.run(["ip", "netns", "delete", self.netns], check=False)
