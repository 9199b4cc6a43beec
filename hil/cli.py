"""The `hil` command (README.md, "Commands"): its tree, the options every command takes, and the process's end.
Each group's options and printing are in hil/commands/, what they do in the parts below (a run's lifecycle in
hil/run/)."""

from pathlib import Path

import typer

from hil import project
from hil.commands import bench, driver, evidence, rig, specs, trace, validate, verify
from hil.commands.console import commands, err
from hil.run import cluster, events

app = commands("Insulin-pump HIL safety verification.", add_completion=False)
app.add_typer(specs.app, name="specs")
app.add_typer(rig.app, name="rig")
app.add_typer(driver.app, name="driver")
app.add_typer(evidence.app, name="evidence")
app.command()(trace.trace)
app.command()(bench.emulate)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(verify.verify)
app.command("blank-run")(bench.blank_run)
app.command()(validate.validate)
app.command("report")(evidence.report)


@app.callback()
def main_options(
    root: Path | None = typer.Option(
        None,
        "--root",
        help=f"the project root: its specs/, fixtures/rigs/ and reports/ (default: ${project.ROOT_ENV}, "
        "else the nearest folder from here upward with a specs/ folder, else here)",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="stdout carries only JSON lines, one per event of the run (its id and folder as it starts, how it "
        "ended), for a program that starts hil; everything else goes to stderr (hil/run/events.py)",
    ),
):
    if as_json:
        events.enable()
    try:
        project.set_root(root)
        project.root()
    except project.ProjectError as exc:
        err.print(f"hil: {exc}", markup=False)
        raise typer.Exit(2) from None


def main() -> None:
    cluster.stop_with_parent()
    try:
        app()
    except SystemExit as exc:  # how typer ends every command
        events.close(exc.code if isinstance(exc.code, int) else 1)
        raise
    except KeyboardInterrupt:
        events.close(130)
        raise
    except BaseException:
        events.close(1)
        raise


if __name__ == "__main__":
    main()
