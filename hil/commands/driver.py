"""`hil driver check`, `hil driver needs` and `hil driver list`."""

from pathlib import Path

import typer
from rich.table import Table

from hil import project
from hil.commands.console import RIG_HELP, commands, err, fail, out
from hil.drivers import registry
from hil.drivers.registry import DeviceKind
from hil.errors import RigError
from hil.evidence import traceability
from hil.procedures import conformance
from hil.rig.config import RigConfigError, load_rig
from hil.rig.rig import Rig
from hil.run.suites import collect

app = commands("Drivers.")


@app.command("check")
def check(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    device: list[DeviceKind] | None = typer.Option(
        None, "--device", help="the devices to check (default: all the rig has)"
    ),
):
    """The rig's drivers against their contracts (hil.drivers.contracts): the pump's commands, STOP accepted
    twice, typed status and events, history, CGM input; each balance's readings, tare and zero; the valve and
    site fixture reaching each state. A conformance table; exit 1 on any miss. The pump is commanded: run it on
    an emulated rig, or on a pump connected to no one."""
    try:
        config = load_rig(rig or project.default_rig())
    except RigConfigError as exc:
        raise fail(str(exc)) from None
    try:
        with Rig(config) as opened:
            found = conformance.checks(opened, set(device or DeviceKind))
    except RigError as exc:
        raise fail(f"driver check: the rig did not open: {exc}") from None
    drivers = ", ".join(f"{'.'.join(path)} {config.driver_name(path)}" for path in config.drivers())
    table = Table(title=f"driver conformance: {config.rig_id} ({config.path})\n{drivers}")
    for column in ("device", "check", "found", "status"):
        table.add_column(column, overflow="fold")
    for check in found:
        style = {"ok": "green", "MISS": "bold red"}.get(check.status, "")
        table.add_row(
            check.device, check.item, check.found, f"[{style}]{check.status}[/]" if style else str(check.status)
        )
    out.print(table)
    misses = [c for c in found if c.status is conformance.Status.MISS]
    for miss in misses:
        err.print(f"MISS {miss.device} {miss.item}: {miss.found}", markup=False)
    out.print(
        f"driver check: {len(found) - len(misses)} of {len(found)} checks met"
        + (f", {len(misses)} missed" if misses else ""),
        markup=False,
    )
    raise typer.Exit(1 if misses else 0)


@app.command("needs")
def needs():
    """Which requirements need which pump capability (a test's `needs` marker, or a metric its bounds use), as the
    Markdown table of docs/drivers.md §3: what a driver that does not declare one leaves unverified."""
    collected, needs = collect(None, needs=True)
    out.print(traceability.capability_table(collected, needs), markup=False, end="", soft_wrap=True)


@app.command("list")
def listed():
    """The installed drivers (entry-point group hil.drivers): name, device, class, package, pump capabilities."""
    table = Table(title=f"drivers installed ({registry.ENTRY_POINT_GROUP} entry points)")
    for column in ("name", "device", "class", "package", "capabilities"):
        table.add_column(column, overflow="fold")
    broken = []
    for name, registered in registry.installed().items():
        try:
            cls = registry.driver_class(name)
        except registry.DriverError as exc:
            broken.append(str(exc))
            continue
        table.add_row(
            name, cls.device.label, registered.value, registered.package, ", ".join(sorted(registry.capabilities(cls)))
        )
    out.print(table)
    for problem in broken:
        err.print(f"driver list: {problem}", markup=False)
    raise typer.Exit(1 if broken else 0)
