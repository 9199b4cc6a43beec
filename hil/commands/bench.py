"""`hil emulate` (the emulator standalone, or published to a labgrid exporter) and `hil blank-run`."""

import json
import os
import re
import sys
from datetime import date
from pathlib import Path

import typer

from hil import project
from hil.analysis import gravimetry
from hil.commands.console import RIG_HELP, fail, out
from hil.errors import RigError
from hil.evidence.recording import CsvRecording
from hil.evidence.run import new_run_dir
from hil.procedures import delivery
from hil.rig import lab
from hil.rig import model as rig_model
from hil.rig.config import RigConfigError, load_rig
from hil.rig.emulator_process import EmulatorProcess
from hil.rig.rig import Rig


def emulate(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    labgrid_exporter: Path | None = typer.Option(
        None,
        "--labgrid-exporter",
        help="also write a labgrid exporter configuration publishing the endpoints (docs/lab.md), "
        "as the resources of group --group",
    ),
    group: str = typer.Option("emulator", "--group", help="the exporter group (with --labgrid-exporter)"),
):
    """Run the emulator standalone and print its endpoints (pump, balance, control ptys)."""
    rig = rig or project.default_rig()
    try:
        load_rig(rig)
    except RigConfigError as exc:
        raise fail(str(exc)) from None
    if labgrid_exporter is not None and not re.fullmatch(rig_model.LAB_NAME_PATTERN, group):
        raise fail(f"hil emulate: --group {group!r}: a labgrid name is letters, digits, '.', '_', '-'")
    if labgrid_exporter is None:
        os.execv(sys.executable, [sys.executable, "-m", "hil.emulator", str(rig)])
    try:
        emulator = EmulatorProcess(rig)
    except RigError as exc:
        raise fail(f"hil emulate: {exc}") from None
    try:
        written = labgrid_exporter.with_name(labgrid_exporter.name + ".partial")  # the exporter never reads half
        written.write_text(lab.exporter_config(group, emulator.endpoints), encoding="utf-8")
        written.replace(labgrid_exporter)
    except OSError as exc:
        emulator.stop()
        raise fail(f"hil emulate: cannot write {labgrid_exporter}: {exc.strerror or exc}") from None
    try:
        out.print(json.dumps(emulator.endpoints), markup=False)
        out.print(f"labgrid exporter configuration: {labgrid_exporter} (group {group})", markup=False)
        sys.stdout.flush()
        emulator.process.wait()
        raise fail(f"hil emulate: the emulator exited with code {emulator.process.returncode}")
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        emulator.stop()


def blank_run(
    rig: Path | None = typer.Option(None, help=RIG_HELP),
    hours: float = typer.Option(..., min=2.0, max=240.0, help="rig hours to weigh the vessel"),
    interval_s: float = typer.Option(60.0, min=1.0, max=3600.0, help="seconds between readings"),
):
    """The blank run: the collection vessel on the balance for HOURS with nothing delivered (the pump stopped),
    read every INTERVAL_S, raw readings kept in reports/blank-runs/<id>/. Prints the rate lost and its standard
    uncertainty (the spread of the hourly rates) as the rig file's `evaporation_correction:` lines."""
    try:
        config = load_rig(rig or project.default_rig())
    except RigConfigError as exc:
        raise fail(str(exc)) from None
    folder = new_run_dir(project.reports(), config.path.stem, folder="blank-runs")
    try:
        with Rig(config) as opened, CsvRecording(folder / "balance.csv", ["t_s", "mass_mg", "stable"]) as raw:
            opened.make_safe("blank run: nothing may be delivered")
            out.print(
                f"blank run {folder.name}: {hours:g} h of rig time, a reading every {interval_s:g} s", markup=False
            )
            series = delivery.record(opened, opened.clock.now(), hours * 3600.0, interval_s, raw)
    except RigError as exc:
        raise fail(f"blank run stopped: {exc} (readings so far in {folder / 'balance.csv'})") from None
    try:
        rate, u_rate, segments = gravimetry.blank_run(series.t_s, series.mass_mg)
    except ValueError as exc:
        raise fail(f"blank run {folder}: {exc}") from None
    today = date.today().isoformat()
    lines = (
        f"evaporation_correction:\n"
        f"  rate_mg_per_h: {rate:.4g}\n"
        f"  u_rate_mg_per_h: {u_rate:.2g}  # spread of {segments} hourly rates; repeat on other days and "
        f"take the larger spread\n"
        f"  source: blank run {folder.name}, {hours:g} h every {interval_s:g} s on {config.rig_id}\n"
        f'  measured: "{today}"\n'
        f"  # valid_days: the days your lab holds a blank run valid (required with measured)\n"
    )
    (folder / "evaporation_correction.yaml").write_text(lines, encoding="utf-8")
    out.print(lines, markup=False)
    out.print(f"raw readings: {folder / 'balance.csv'}", markup=False)
