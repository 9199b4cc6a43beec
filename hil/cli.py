"""The `hil` command: specs check, trace, emulate, verify, report, evidence verify (DESIGN.md §8)."""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hil.evidence import report as reporting
from hil.evidence.run import new_run_dir
from hil.rig.config import DEFAULT_RIG, RigConfigError, load_rig
from hil.specs import SpecError, load_requirements

SAFETY_TESTS = Path("tests/safety")
REPORTS = Path("reports")
EMULATED_TEST_TIMEOUT_S = 900

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Insulin-pump HIL safety verification.")
specs_app = typer.Typer(no_args_is_help=True, help="Requirement files.")
evidence_app = typer.Typer(no_args_is_help=True, help="Run evidence.")
app.add_typer(specs_app, name="specs")
app.add_typer(evidence_app, name="evidence")
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@specs_app.command("check")
def specs_check(paths: list[Path] = typer.Argument(None, help="files or directories (default: specs/)")):
    """Validate requirement files; every problem is listed with file:line."""
    try:
        requirements = load_requirements(paths or None)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s)")
        raise typer.Exit(1)
    files = sorted({str(r.file) for r in requirements.values()})
    out.print(f"ok: {len(requirements)} requirements in {len(files)} file(s): {', '.join(files)}")


def collect_trace(tests: Path = SAFETY_TESTS) -> dict[str, list[str]]:
    """test node id → requirement ids, from a pytest collection of the safety suites."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "trace.json"
        done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               str(tests), "--hil-trace", str(target)], capture_output=True, text=True, timeout=300)
        if not target.exists():
            raise RuntimeError(f"collecting {tests} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return json.loads(target.read_text())


def _last_verdicts() -> dict[str, str]:
    record = REPORTS / "latest" / "record.json"
    if not record.exists():
        return {}
    return {node: test.get("outcome") or "?" for node, test in json.loads(record.read_text())["tests"].items()}


@app.command()
def trace(format: str = typer.Option("table", "--format", help="table, csv or json")):
    """Requirement → tests (→ last verdict). Exits 1 if a requirement has no test or a test names an unknown id."""
    try:
        requirements = load_requirements()
    except SpecError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1)
    tests = collect_trace()
    verdicts = _last_verdicts()
    rows, problems = [], []
    for rid, req in sorted(requirements.items()):
        bound = sorted(node for node, ids in tests.items() if rid in ids)
        if not bound:
            problems.append(f"{req.file}:{req.line}: requirement {rid} has no test")
        for node in bound or [""]:
            rows.append({"requirement": rid, "title": req.title, "test": node, "last_verdict": verdicts.get(node, "")})
    for node, ids in sorted(tests.items()):
        problems += [f"{node}: names unknown requirement {rid}" for rid in ids if rid not in requirements]
    if format == "json":
        out.print_json(json.dumps({"rows": rows, "problems": problems}))
    elif format == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["requirement"])
        writer.writeheader()
        writer.writerows(rows)
        out.print(buffer.getvalue(), end="", markup=False)
    else:
        table = Table("requirement", "title", "test", "last verdict")
        for row in rows:
            table.add_row(row["requirement"], row["title"], row["test"] or "[red]NO TEST[/red]", row["last_verdict"])
        out.print(table)
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise typer.Exit(1)


@app.command()
def emulate(rig: Path = typer.Option(DEFAULT_RIG, help="rig file")):
    """Run the emulator standalone and print its endpoints (pump, balance, control ptys)."""
    try:
        load_rig(rig)
    except RigConfigError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1)
    os.execv(sys.executable, [sys.executable, "-m", "hil.emulator", str(rig)])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def verify(ctx: typer.Context, rig: Path = typer.Option(DEFAULT_RIG, help="rig file"),
           k: Optional[str] = typer.Option(None, "-k", help="pytest -k expression")):
    """Run the safety suites against the rig; write reports/runs/<id>/ and its HTML report."""
    try:
        load_requirements()
        config = load_rig(rig)
    except (SpecError, RigConfigError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1)
    run_dir = new_run_dir(REPORTS, config.path.stem)
    command = [sys.executable, "-m", "pytest", str(SAFETY_TESTS), "-p", "no:cacheprovider", "--rig", str(rig),
               "--hil-run-dir", str(run_dir), "--alluredir", str(run_dir / "allure-results"), "-rA", *ctx.args]
    if k:
        command += ["-k", k]
    if config.simulated:  # a backstop against a hung emulated test; a bench test may rightly run for days
        command += ["--timeout", str(EMULATED_TEST_TIMEOUT_S)]
    out.print(f"run {run_dir.name}: {' '.join(command[1:])}", markup=False)
    code = subprocess.run(command).returncode
    _finish_run(run_dir)
    raise typer.Exit(code)


def _finish_run(run_dir: Path) -> None:
    record_path = run_dir / "record.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        reporting.write_allure_environment(run_dir / "allure-results", record)
        try:
            index = reporting.generate_report(run_dir, f"Insulin-pump safety verification: {record['run_id']}")
            out.print(f"report: {index}", markup=False)
        except reporting.ReportError as exc:
            err.print(f"report not generated: {exc}", markup=False)
    count = reporting.write_manifest(run_dir)
    reporting.point_latest(REPORTS, run_dir)
    out.print(f"manifest: {count} files hashed in {run_dir / reporting.MANIFEST}; reports/latest → {run_dir}", markup=False)


def _run_dir(run: Optional[str]) -> Path:
    try:
        return reporting.resolve_run(REPORTS, run)
    except reporting.ReportError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1)


@app.command("report")
def report_cmd(run: Optional[str] = typer.Argument(None, help="run folder or id (default: reports/latest)")):
    """(Re)build the HTML report of a run, and its manifest."""
    _finish_run(_run_dir(run))


@evidence_app.command("verify")
def evidence_verify(run: Optional[str] = typer.Argument(None, help="run folder or id (default: reports/latest)")):
    """Check every file of a run against its SHA-256 manifest."""
    run_dir = _run_dir(run)
    problems = reporting.verify_manifest(run_dir)
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise typer.Exit(1)
    out.print(f"ok: every file of {run_dir} matches its manifest", markup=False)


def main() -> None:
    app()
