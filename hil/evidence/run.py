"""The run folder and its schema-versioned record: provenance, per-test verdicts and measurements,
safety actions. Written as the run goes (record.json is rewritten after every test), so an interrupted
run still leaves a record of what was done."""

import datetime as dt
import getpass
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from hil import project
from hil.evidence.per_test import safe_name
from hil.evidence.run_kind import REHEARSAL_NOTE
from hil.rig.config import RigConfig
from hil.rig.lab import Acquisition
from hil.specs.claims import Claims

# The version of the record this recorder writes, which hil/run/record.py's models describe and publish as a schema.
# 2: a verdict, failure class and reason per test, interrupted; 3: the first published, with the claims and each
# bound's origin.
SCHEMA_VERSION = 3
LOCK_FILES = ("requirements.lock", "package-lock.json")
CLAIMS_COPY = "claims"  # the run folder's copy of the claims file its requirements took their numbers from
REQUIREMENT_COPIES = "requirements"  # the run folder's copies of the requirement files it ran, for its reader
TEST_LABEL = "hil_test"  # the Allure label carrying a result's test node id (the record's key for it)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_dir(reports: Path, rig_name: str, folder: str = "runs") -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = reports / folder / f"{stamp}-{rig_name}"
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = base, 1
    while True:  # mkdir is the claim, so two runs started in the same second never share a folder
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(root: Path = Path(".")) -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git checkout"}
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"commit": None, "dirty": None, "note": f"git unavailable: {exc}"}


def rig_seconds(test: dict) -> float | None:
    """The rig time a test's call took (`rig_time_s`)."""
    value = test.get("rig_time_s")
    return float(value) if isinstance(value, (int, float)) else None


def wall_seconds(test: dict) -> float | None:
    """The wall time a test took, its setup, call and teardown."""
    durations = [phase.get("duration_s") for phase in (test.get("phases") or {}).values()]
    return float(sum(durations)) if durations and all(isinstance(d, (int, float)) for d in durations) else None


def rig_times(
    runs: Path, nodes: list[str], seconds: Callable[[dict], float | None] = rig_seconds
) -> dict[str, tuple[float, str]]:
    """Test node id → (seconds it took, run id), from the newest run records under `runs` (a run across places: its
    units' records) that timed it; unreadable records are passed over. By default the rig time its call took, what
    preflight and the progress display expect; `wall_seconds` for the wall time."""
    timed: dict[str, tuple[float, str]] = {}
    wanted = set(nodes)
    records = [*Path(runs).glob("*/record.json"), *Path(runs).glob("*/units/*/record.json")]
    for record_file in sorted(records, reverse=True):
        try:
            tests = json.loads(record_file.read_text(encoding="utf-8")).get("tests", {})
        except (OSError, ValueError, AttributeError):
            continue
        for node, test in tests.items():
            took = seconds(test) if isinstance(test, dict) else None
            if node in wanted and node not in timed and took is not None and test.get("verdict") != "INTERRUPTED":
                timed[node] = (took, record_file.parent.name)
        if len(timed) == len(wanted):
            break
    return timed


FINAL_VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")  # a test with one of these has finished


def finished(test: dict) -> bool:
    """A test of a record that ran to a verdict (a resumed run keeps it); an interrupted one, one never judged,
    or one skipped because the rig had broken is run again."""
    verdict = test.get("verdict")
    return verdict in FINAL_VERDICTS or (verdict == "SKIPPED" and test.get("failure_class") != "rig")


def changed_evidence(record: dict, run_dir: Path) -> list[str]:
    """Each file of a finished test that is no longer what the record hashed as the test ended (changed or gone):
    what stands between a run that stopped before its seal and a seal, or a resumed session."""
    problems = []
    for nodeid, test in record["tests"].items():
        if not finished(test):
            continue
        for name, digest in (test.get("files_sha256") or {}).items():
            path = Path(run_dir) / name
            if not path.is_file():
                problems.append(f"{nodeid}: its evidence {name} is gone since the record hashed it")
            elif sha256_file(path) != digest:
                problems.append(f"{nodeid}: its evidence {name} is not what the record hashed when it ended")
    return problems


def _new_record(
    run_id: str, requirements: dict, spec_files: list[Path], claims: Claims | None, session: dict[str, Any]
) -> dict[str, Any]:
    """A new run's record: where it comes from (suite, commit, host, operator, the hashes of the files that judge
    it), what judges it (each requirement and the origins of its bounds, the claims), its first session."""
    return {
        "record_schema": SCHEMA_VERSION,
        "run_id": run_id,
        "started": utc_now(),
        "finished": None,
        "provenance": {
            "suite_version": metadata.version("hil"),
            "git": git_state(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "host": platform.node(),
            "operator": os.environ.get("HIL_OPERATOR") or getpass.getuser(),
            "spec_files": {str(f): sha256_file(f) for f in spec_files},
            "claims_file": {str(claims.file): claims.sha256} if claims else {},
            "lock_files": {name: sha256_file(Path(name)) for name in LOCK_FILES if Path(name).exists()},
        },
        "rig": None,
        "claims": {"device": claims.device, "file": str(claims.file), "copy": f"{CLAIMS_COPY}/{claims.file.name}"}
        if claims
        else None,
        "requirements": {
            rid: {
                "file": str(r.file),
                "copy": f"{REQUIREMENT_COPIES}/{r.file.name}",
                "line": r.line,
                "title": r.title,
                "area": r.area,
                "severity": r.severity,
                "source": r.source,
                "claims_used": list(r.claims_used),
                "origins": {b.name: b.origin_text() for b in r.acceptance},
                "unclaimed": list(r.unclaimed),
                "not_applicable": r.not_applicable,
            }
            for rid, r in sorted(requirements.items())
        },
        "selected": {},
        "tests": {},
        "safety_actions": [],
        "exit_status": None,
        "rig_broken": None,
        "interrupted": None,
        "sessions": [session],
    }


class RunRecorder:
    def __init__(
        self,
        directory: Path,
        requirements: dict,
        resume: bool = False,
        claims: Claims | None = None,
        figures: bool = True,
    ):
        """resume: continue the record already in `directory` (hil verify --resume) in a new session. claims: those
        of the pump model the requirements' numbers came from, kept in the run (claims/). figures: whether this
        session draws its tests' figures (hil verify --no-figures: not), said in the session."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.resumed = resume
        session: dict[str, Any] = {
            "started": utc_now(),
            "finished": None,
            "exit_status": None,
            "interrupted": None,
            "host": platform.node(),
            "git": git_state(),
            "selected": [],
            "ran": [],
            "figures": figures,
        }
        if resume:
            self.record = json.loads((self.directory / "record.json").read_text(encoding="utf-8"))
            self.record.setdefault("sessions", [])
            self.record["sessions"].append(session)
            self.record.update(finished=None, exit_status=None, interrupted=None, rig_broken=None, abandoned=None)
            self._set_aside_unfinished()
        else:
            spec_files = sorted({r.file for r in requirements.values()})
            self.record = _new_record(self.directory.name, requirements, spec_files, claims, session)
            self._copy_sources(spec_files, claims)
        self._write()

    def _copy_sources(self, spec_files: list[Path], claims: Claims | None) -> None:
        """The requirement files, the claims and the references the record names, copied into the run."""
        copies = self.directory / REQUIREMENT_COPIES
        copies.mkdir(exist_ok=True)
        for file in spec_files:  # what the report's requirement links open, inside the run
            shutil.copyfile(file, copies / Path(file).name)
        if claims:  # the figures the bounds took, as the device's labelling states them
            (self.directory / CLAIMS_COPY).mkdir(exist_ok=True)
            (self.directory / CLAIMS_COPY / claims.file.name).write_bytes(claims.content)  # the bytes hashed
        sources = project.references()
        if sources.is_file():  # where the requirements' `source:` citations point, at the same path in the run
            (self.directory / project.REFERENCES).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sources, self.directory / project.REFERENCES)

    def _set_aside_unfinished(self) -> None:
        """Before a resumed session: each test that did not finish keeps what it left as a previous attempt (its
        folder renamed `<folder>.attempt-<n>`), and runs again from its start in a fresh folder."""
        for nodeid, test in list(self.record["tests"].items()):
            if finished(test):
                continue
            attempts = test.pop("previous_attempts", [])
            folder = self.directory / "tests" / safe_name(nodeid)
            if folder.exists():
                aside = folder.with_name(f"{folder.name}.attempt-{len(attempts) + 1}")
                folder.rename(aside)
                test["folder"] = aside.name

                def moved(name: str, old: str = f"tests/{folder.name}/", new: str = f"tests/{aside.name}/") -> str:
                    return name.replace(old, new, 1)

                test["files"] = [moved(f) for f in test.get("files", [])]
                if "files_sha256" in test:
                    test["files_sha256"] = {moved(f): digest for f, digest in test["files_sha256"].items()}
            self.record["tests"][nodeid] = {
                "requirements": test["requirements"],
                "verdict": None,
                "outcome": None,
                "failure_class": None,
                "reason": None,
                "phases": {},
                "previous_attempts": attempts + [test],
            }

    def set_rig(self, config: RigConfig) -> None:
        self.record["rig"] = {
            "id": config.rig_id,
            "file": str(config.path),
            "sha256": config.sha256,
            "effective_config": config.data,
            "clock": config.data["clock"],
            "identities": {},
        }
        if config.rehearsal:  # the emulator in real time: shown on every page of the report, never evidence
            self.record["rehearsal"] = {"speed": config.speed, "note": REHEARSAL_NOTE}
        operator = config.data.get("operator")
        if operator and not os.environ.get("HIL_OPERATOR"):
            self.record["provenance"]["operator"] = operator
        self._write()

    def set_identities(self, identities: dict, drivers: dict) -> None:
        """The instruments' identities, and the drivers (name, class, package and version) that spoke to them."""
        self.record["rig"]["identities"] = identities
        self.record["rig"]["drivers"] = drivers
        self._write()

    def set_place(self, acquisition: Acquisition) -> None:
        """The labgrid place the rig was on: coordinator, place, holder, its serial resources' URLs (the run's, and
        this session's: a resumed session may hold the place anew)."""
        self.record["rig"]["labgrid"] = asdict(acquisition)
        self.record["sessions"][-1]["labgrid"] = asdict(acquisition)
        self._write()

    def set_selected(
        self, tests: dict[str, list[str]], collected: dict[str, list[str]], selection: dict[str, str | None]
    ) -> None:
        """The bound tests this session selected, and all the bound tests the suites hold (before -k): test node
        id → requirement ids; the traceability gate judges the run against the latter; selection: the options
        that chose them (-k, -m). A resumed session runs what its run had left; the run's selection and
        collection stay as they were."""
        if not self.resumed:
            self.record["selected"] = tests
            self.record["collected"] = collected
            self.record["selection"] = selection
        self.record["sessions"][-1]["selected"] = list(tests)
        self._write()

    def _test(self, nodeid: str, ids: list[str]) -> dict:
        return self.record["tests"].setdefault(
            nodeid,
            {
                "requirements": ids,
                "verdict": None,
                "outcome": None,
                "failure_class": None,
                "reason": None,
                "phases": {},
            },
        )

    def add_phase(self, nodeid: str, ids: list[str], report) -> None:
        """What pytest reported for one phase (setup, call, teardown) of a test. The setup's is written at once (the
        test has begun); the call's and the teardown's go with the write that follows them moments later, of the
        test's evidence or verdict (a record of 300 kB, rewritten seven times a test, took a few per cent of a
        campaign's CPU time): a harness killed in between leaves the test without a verdict all the same."""
        self._test(nodeid, ids)["phases"][report.when] = {
            "outcome": report.outcome,
            "duration_s": round(report.duration, 3),
            "message": report.longreprtext[-2000:] if report.failed else None,
        }
        if report.when == "setup":
            self._write()

    def set_rig_time(self, nodeid: str, ids: list[str], seconds: float) -> None:
        """The rig time the test's call took (what `hil rig check` adds up for a campaign's duration); written with
        the test's evidence."""
        self._test(nodeid, ids)["rig_time_s"] = round(seconds, 3)

    def set_judgement(self, nodeid: str, ids: list[str], judgement) -> None:
        """The test's verdict, outcome, failure class and reason (hil.evidence.verdict.Judgement); the session
        lists it as run (to its end or not)."""
        self._test(nodeid, ids).update(judgement.as_record())
        self.record["sessions"][-1]["ran"].append(nodeid)
        self._write()

    def add_evidence(self, nodeid: str, ids: list[str], evidence) -> None:
        """The test's measurements and files, each file with its SHA-256 (what a resumed run checks the finished
        tests' evidence against when the interrupted run was never sealed)."""
        record = evidence.as_record()
        record["files"] = [str(Path(f).relative_to(self.directory)) for f in record["files"]]
        record["files_sha256"] = {
            f: sha256_file(self.directory / f) for f in record["files"] if (self.directory / f).is_file()
        }
        self._test(nodeid, ids).update(record)
        self._write()

    def add_safety(self, action, nodeid: str | None = None) -> None:
        self.record["safety_actions"].append(
            {"test": nodeid, "reason": action.reason, "ok": action.ok, "detail": action.detail, "time": utc_now()}
        )
        self._write()

    def finish(self, exit_status: int, broken: str | None, interrupted: dict | None = None) -> None:
        """interrupted: {"signal": name, "test": node id or None} when a signal or Ctrl-C ended the run."""
        ended = {"finished": utc_now(), "exit_status": exit_status, "interrupted": interrupted}
        self.record.update(rig_broken=broken, **ended)
        self.record["sessions"][-1].update(ended)
        self._write()

    def _write(self) -> None:
        write_record(self.directory, self.record, indented=self.record["finished"] is not None)


def write_record(directory: Path, record: dict, indented: bool = True) -> None:
    """Replace record.json atomically (a reader never sees half a record). Indented for the reader of a finished
    record; a running record, rewritten several times a test, goes compact: json's C encoder, four times as fast
    (an indent takes the pure-Python one)."""
    path = Path(directory) / "record.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1 if indented else None, default=str), encoding="utf-8")
    os.replace(tmp, path)


def finish_abandoned(directory: Path, exit_status: int, interrupted: dict | None, killed: bool = False) -> bool:
    """Finish the record of a run whose pytest ended without finishing it (killed after the grace period, or
    crashed); True if it had to. The tests it was running keep the verdict they had, or none."""
    path = Path(directory) / "record.json"
    if not path.exists():
        return False
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("finished"):
        return False
    ended = {"finished": utc_now(), "exit_status": exit_status, "interrupted": interrupted}
    record.update(
        abandoned="pytest was killed after the grace period: its STOP may not have been sent"
        if killed
        else "pytest ended without finishing the record",
        **ended,
    )
    if record.get("sessions"):
        record["sessions"][-1].update(ended)
    write_record(directory, record)
    return True
