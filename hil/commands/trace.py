"""`hil trace`: requirement → tests → verdict of a run, as a table, CSV or JSON, or the run's bounds."""

import csv
import io
import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from hil import project
from hil.commands.console import SPECS_HELP, err, fail, out, stopped
from hil.evidence import traceability
from hil.run.folder import claims_file, read_record, resolve
from hil.run.say import RunStop
from hil.run.suites import collect_trace
from hil.specs import SpecError, load_requirements


class TraceFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _trace_format(name: str) -> TraceFormat:
    """The format by name; a one-line usage error (exit 2) for any other."""
    try:
        return TraceFormat(name.lower())
    except ValueError:
        raise fail(f"hil trace: --format must be one of {', '.join(TraceFormat)}, not {name!r}", 2) from None


def trace(
    format: str = typer.Option("table", "--format", help="table, csv or json"),
    run: str | None = typer.Option(None, "--run", help="run folder or id for the verdicts (default: reports/latest)"),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
    bounds: bool = typer.Option(
        False,
        "--bounds",
        help="the run's bounds instead, one CSV line each: limits, value ± U, outcome, and where the limits come from "
        "(the device's claim with its figure and source, a standard, a regulation, a judgement)",
    ),
):
    """Requirement → tests → verdict of a run. Exits 1 if a requirement has no test or a test names an unknown id."""
    shown = _trace_format(format)
    record, run_dir = None, None
    try:
        if run or (project.reports() / "latest").exists():
            run_dir = resolve(run)
            record = read_record(run_dir)
    except RunStop as stop:
        raise stopped(stop) from None
    try:  # a run's requirements with the claims it was judged against
        claims = claims_file(run_dir, record) if run_dir and record else None
        requirements = load_requirements([specs or project.specs()], claims)
    except SpecError as exc:
        raise fail(str(exc)) from None
    matrix = traceability.build(requirements, collect_trace(), record)
    if bounds:
        if record is None:
            raise fail("hil trace --bounds: no run (give --run, or run hil verify first)")
        out.print(traceability.bound_table(matrix, record), end="", markup=False, highlight=False, soft_wrap=True)
    elif shown == TraceFormat.JSON:
        out.print_json(
            json.dumps({"run": (record or {}).get("run_id"), "rows": matrix.rows, "problems": matrix.problems})
        )
    elif shown == TraceFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=traceability.COLUMNS)
        writer.writeheader()
        writer.writerows(matrix.rows)
        out.print(buffer.getvalue(), end="", markup=False)
    else:
        out.print(_table(matrix.rows, record))
    problems = matrix.suite_problems  # "all skipped" belongs to a run: `hil verify` judges it
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise typer.Exit(1)


def _table(rows: list[dict], record: dict | None) -> Table:
    table = Table(
        "requirement",
        "title",
        "test",
        "outcome",
        "verdict",
        "class",
        title=f"run {record['run_id']}" if record else "no run",
    )
    for row in rows:
        table.add_row(
            row["requirement"],
            row["title"],
            row["test"] or "[red]NO TEST[/red]",
            row["outcome"],
            row["verdict"],
            row["failure_class"],
        )
    return table
