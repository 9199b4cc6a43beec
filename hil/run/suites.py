"""The package's safety suites as hil's child processes run them: pytest's command, its environment, one collection
(test → requirements, and what each test needs of the pump), and what in a -k expression names no requirement."""

import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hil import project
from hil.specs import SpecError, load_requirements


def children_env() -> dict[str, str]:
    """The environment of hil's own child processes (pytest, campaigns): this process's project root."""
    return {**os.environ, project.ROOT_ENV: str(project.root())}


def pytest_command(*args: str) -> list[str]:
    """pytest on the package's safety suites, with their own configuration and root whatever folder holds them."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(project.suites_ini()),
        "--rootdir",
        str(project.suites_rootdir()),
        "-p",
        "no:cacheprovider",
        *args,
    ]


def collect_trace(k: str | None = None) -> dict[str, list[str]]:
    """test node id → requirement ids, from a pytest collection of the safety suites (with -k: the selected)."""
    return collect(k, needs=False)[0]


def collect(k: str | None, needs: bool) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """(test node id → requirement ids, and with `needs` test node id → the pump capabilities it needs → what
    needs each), from one pytest collection of the safety suites."""
    tests = project.safety_suites()
    with tempfile.TemporaryDirectory() as tmp:
        target, needs_file = Path(tmp) / "trace.json", Path(tmp) / "needs.json"
        options = ["--hil-trace", str(target), *(["--hil-needs", str(needs_file)] if needs else [])]
        done = subprocess.run(
            pytest_command("--collect-only", "-q", str(tests), *options, *(["-k", k] if k else [])),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=project.root(),
            env=children_env(),
            start_new_session=True,
        )  # a terminal's Ctrl-C must not cut a seal short
        if not target.exists():
            raise RuntimeError(f"collecting {tests} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return json.loads(target.read_text()), json.loads(needs_file.read_text()) if needs else {}


def unknown_ids(k: str | None, specs: Path) -> str:
    """The requirement ids a -k expression names that no requirement file has, each with the closest ones."""
    try:
        known = sorted(load_requirements([specs]))
    except SpecError:
        return ""
    said = []
    for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z0-9]+)+", k or ""):
        if word.upper() not in known and not any(rid.startswith(word.upper()) for rid in known):
            close = difflib.get_close_matches(word.upper(), known, n=3, cutoff=0.6)
            said.append(f"no requirement {word}" + (f"; did you mean {' or '.join(close)}?" if close else ""))
    return ": " + ", ".join(said) if said else ""
