"""`hil rig check` (preflight before a campaign) and `hil rig schema`."""

import json
from datetime import date
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from hil import project
from hil.commands.console import RIG_HELP, SPECS_HELP, commands, fail, out
from hil.errors import RigError
from hil.procedures import preflight
from hil.rig import model as rig_model
from hil.rig.config import RigConfigError, load_rig
from hil.rig.rig import Rig
from hil.run.suites import collect
from hil.specs import SpecError, load_requirements

app = commands("The rig.")


@app.command("check")
def check(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    k: str | None = typer.Option(None, "-k", help="pytest -k expression: the campaign to check for"),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
):
    """Preflight before a campaign: the balance's resolution against every selected requirement, calibration
    and blank-run dates, then the rig itself (identities, the pump's state, alarms and STOP, a stable reading
    per balance, the actuators), and the campaign's rig time from earlier runs. Exits 1 on any blocker."""
    rig, specs = rig or project.default_rig(), specs or project.specs()
    try:
        config = load_rig(rig)
        requirements = load_requirements([specs], config.claims)
    except (SpecError, RigConfigError) as exc:
        raise fail(str(exc)) from None
    selected, needs = collect(k, needs=True)
    ids = sorted({rid for rids in selected.values() for rid in rids})
    checks = preflight.fitness(config, [requirements[rid] for rid in ids if rid in requirements])
    checks += preflight.capabilities(config, needs)
    checks += preflight.dates(config, date.today())
    try:
        with Rig(config) as opened:
            checks += preflight.instruments(opened)
    except RigError as exc:
        checks.append(preflight.Check("rig", f"cannot open: {exc}", preflight.Status.BLOCKER))
    checks.append(preflight.duration(list(selected), project.reports() / "runs"))
    table = Table(title=f"preflight: {config.rig_id} ({rig}), {len(selected)} tests, {len(ids)} requirements")
    for column in ("check", "found", "status"):
        table.add_column(column, overflow="fold")
    for check in checks:
        style = {"ok": "green", "warning": "bold yellow", "BLOCKER": "bold red"}.get(check.status, "")
        status = f"[{style}]{check.status}[/]" if style else str(check.status)
        table.add_row(escape(check.item), escape(check.found), status)  # "window_h=1" in brackets is not markup
    out.print(table)
    blockers = [c for c in checks if c.status is preflight.Status.BLOCKER]
    for warning in (c for c in checks if c.status is preflight.Status.WARNING):
        out.print(f"preflight warning: {warning.item}: {warning.found}", markup=False)
    out.print(
        f"preflight: {len(blockers)} blocker(s)"
        + (": " + "; ".join(c.item for c in blockers) if blockers else ": the rig is fit to start the campaign"),
        markup=False,
    )
    raise typer.Exit(1 if blockers else 0)


@app.command("schema")
def schema():
    """The rig file's JSON Schema for editors, with every installed driver's options (the shipped
    hil/rig/rig.schema.json has the built-in drivers')."""
    print(json.dumps(rig_model.json_schema(built_in_only=False), indent=2, ensure_ascii=False))
