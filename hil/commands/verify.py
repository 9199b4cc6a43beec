"""`hil verify`: the safety suites against a rig, on one rig (a labgrid place held meanwhile), resumed, or on
several places at once (hil/run/on_rig.py, hil/run/across_places.py)."""

from pathlib import Path
from typing import Annotated

import typer

from hil import project
from hil.commands.console import RIG_HELP, SPECS_HELP, fail, say, stopped
from hil.evidence import seal
from hil.rig.config import RigConfigError, load_rig
from hil.run import across_places, on_rig
from hil.run.folder import read_record, resolve
from hil.run.place import on_place
from hil.run.say import RunStop
from hil.specs import SpecError, load_requirements

Report = Annotated[
    bool,
    typer.Option(
        "--report/--no-report",
        help="build the HTML report (without: record, raw data, plots and seal only; `hil report RUN` builds it later)",
    ),
]
Figures = Annotated[
    bool,
    typer.Option(
        "--figures/--no-figures",
        help="draw the tests' figures (without: measurements, verdicts and raw data as always, a fifth less CPU; "
        "hil validate's campaigns other than the one that holds its report)",
    ),
]
Resume = Annotated[
    str | None,
    typer.Option(
        "--resume",
        help="continue this interrupted run (folder or id): its unfinished tests, on the same rig, into the same "
        "folder",
    ),
]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="a rig on a labgrid place held by someone: wait up to this many seconds for it (a labgrid reservation)",
    ),
]
Places = Annotated[
    str | None,
    typer.Option(
        "--places",
        help="A,B,…: the rig on each of these labgrid places at once, a pump unit each, into one run; requirements "
        "judged across the units as their units: asks (docs/lab.md)",
    ),
]
Split = Annotated[
    bool,
    typer.Option("--split", help="with --places: spread the selected tests over the places instead (one unit each)"),
]
UnitDir = Annotated[Path | None, typer.Option("--unit-dir", hidden=True, help="one unit of a --places run")]
ToolValidation = Annotated[
    str | None,
    typer.Option("--tool-validation", hidden=True, help="JSON: the hil validate campaign this run is (id, rig, seed)"),
]


def verify(
    ctx: typer.Context,
    rig: Annotated[Path | None, typer.Option(help=RIG_HELP)] = None,
    k: Annotated[str | None, typer.Option("-k", help="pytest -k expression")] = None,
    specs: Annotated[Path | None, typer.Option("--specs", help=SPECS_HELP)] = None,
    report: Report = True,
    figures: Figures = True,
    resume: Resume = None,
    wait: Wait = 0.0,
    places: Places = None,
    split: Split = False,
    unit_dir: UnitDir = None,
    tool_validation: ToolValidation = None,
):
    """Run the safety suites against the rig; write reports/runs/<id>/ and its HTML report."""
    try:
        record = read_record(resolve(resume)) if resume else None
    except RunStop as stop:
        raise stopped(stop) from None
    if record is not None and record.get("kind") == "places":
        raise fail(
            f"resume refused: {record['run_id']} is a run across places: its units' places may be another's by now; "
            "run the unfinished requirements again with --places"
        )
    if record is not None and rig is None and record.get("rig"):  # a resumed run goes on with its own rig file
        rig = project.at_root(Path(record["rig"]["file"]))
    rig, specs = rig or project.default_rig(), specs or project.specs()
    try:
        config = load_rig(rig)
        load_requirements([specs], config.claims)  # with the claims of the pump the rig holds
    except (SpecError, RigConfigError) as exc:
        raise fail(str(exc)) from None
    try:  # a key that cannot seal must stop the run before it starts, not after days of testing
        seal.signing.key_from_env()
    except seal.signing.SigningKeyError as exc:
        raise fail(f"{seal.signing.KEY_ENV}: {exc}") from None
    pytest_args = [*ctx.args, *([] if figures else ["--hil-no-figures"])]  # passed on (a --places unit's too)
    place = config.section("labgrid")
    if places is not None and resume:
        raise fail("hil: --resume does not go with --places: resume each unit's own run")
    if places is None and split:
        raise fail("hil: --split spreads the selected tests over --places; no --places given")
    if not place and wait and places is None:
        raise fail(f"hil: --wait is for a rig on a labgrid place; {config.path} names none")
    request = on_rig.OnRig(config, rig, specs, k, report, pytest_args, resume, record, unit_dir, tool_validation)
    try:
        if places is not None:
            code = across_places.verify(
                across_places.AcrossPlaces(config, specs, k, report, places, split, wait, pytest_args), say
            )
        elif place:
            code = on_place(place, wait, say, lambda held: on_rig.verify(request, say, held))
        else:
            code = on_rig.verify(request, say)
    except RunStop as stop:
        raise stopped(stop) from None
    raise typer.Exit(code)
