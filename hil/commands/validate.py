"""`hil validate`: the tool validation, the campaign on the nominal rig and on every seeded-defect rig and the
detection matrix (hil/run/validate.py plans and judges it; hil/run/cluster.py runs the campaigns)."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from hil import project
from hil.commands.console import RIG_HELP, err, fail, out, say, stopped
from hil.evidence import seal
from hil.evidence.run import new_run_dir
from hil.run import cluster, events
from hil.run import validate as validate_run
from hil.run.finish import finish
from hil.run.say import RunStop
from hil.run.suites import collect_trace, unknown_ids
from hil.specs import SpecError, load_requirements

Defects = Annotated[
    Path | None,
    typer.Option(
        help="folder of seeded-defect rig files (default: the project's fixtures/rigs/defects/, else the "
        "reference ones)"
    ),
]
FullSeeds = Annotated[
    int | None,
    typer.Option(
        "--full-seeds",
        min=1,
        help="with --seeds N: every test on a defect rig's first M seeds only, on its others the tests of the "
        "requirements it declares (extra failures checked over M seeds, detection over N; the nominal rig runs every "
        "test on every seed; docs/validation.md, the --full-seeds paragraph); default: N",
    ),
]
InAreas = Annotated[
    bool,
    typer.Option(
        "--in-areas",
        help="a defect rig runs only the tests of the areas (dose accuracy, occlusion, ...) of the requirements it "
        "declares or may fail, where its extra failures are checked; the nominal rig runs every test. What CI runs: "
        'not a validation of the catalogue, which runs without it (docs/validation.md, "In CI")',
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="a Dask scheduler's address (tcp://HOST:PORT): the campaigns run on its workers, started in the project "
        'folder on each machine (docs/validation.md, "Many machines"); default: this machine, --jobs at a time',
    ),
]
Selection = Annotated[
    str | None,
    typer.Option(
        "-k",
        help="pytest -k expression: every campaign runs only the tests it selects, and each defect must fail exactly "
        "the requirements it declares among theirs",
    ),
]
AllReports = Annotated[
    bool,
    typer.Option(
        "--all-reports",
        help="build every campaign's HTML report, with its figures (default: the nominal rig's first campaign only, "
        "the one that holds the matrix; the others draw no figures, and `hil report RUN` builds their report)",
    ),
]
Report = Annotated[
    bool,
    typer.Option(
        "--report/--no-report",
        help="the nominal rig's first campaign draws its figures and its HTML report shows the matrix (without: "
        "no campaign draws figures or builds a report; the matrix is in its files and attached to that run, whose "
        "report `hil report RUN` builds)",
    ),
]


def validate(
    defects: Defects = None,
    nominal: Annotated[Path | None, typer.Option(help=f"the nominal rig; {RIG_HELP}")] = None,
    seeds: Annotated[int, typer.Option(min=1, max=1000, help="campaigns per rig, each with its own emulator seed")] = 1,
    full_seeds: FullSeeds = None,
    in_areas: InAreas = False,
    jobs: Annotated[
        int, typer.Option(min=1, help="campaigns run side by side (on this machine; with --scheduler, ignored)")
    ] = 2,
    scheduler: Scheduler = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="defect rig names to run (default: all)")] = None,
    k: Selection = None,
    all_reports: AllReports = False,
    report: Report = True,
):
    """Tool validation: the campaign on the nominal rig and on every seeded-defect rig, and the detection
    matrix (defect × requirement, expected vs observed). With --seeds N each rig runs N times, with the emulator
    seeds s, s+1, ... s+N-1 (s: the rig file's seed), and each cell is a count k/N with its one-sided 95 %
    confidence limit. Exits 1 unless, in every campaign, every defect is caught by exactly the requirements it
    declares and the nominal rig passes everything. The matrix goes to reports/validation/<id>/ and into the
    nominal run's report (with --no-report, into its audit/ for `hil report RUN`); the rig files of seeds after the
    first are kept there. Every campaign keeps its record, raw data and seal; the nominal rig's first campaign (with
    --all-reports, every campaign; with --no-report, none) draws its figures and gets its HTML report, the others
    draw none (the matrix reads verdicts; `hil verify --rig` on the campaign's rig file repeats it with them) and
    leave their report to `hil report RUN`."""
    if all_reports and not report:
        raise fail("--all-reports and --no-report: choose one", 2)
    try:
        plan = validate_run.plan(
            defects or project.defect_rigs(),
            nominal or project.default_rig(),
            only,
            seeds,
            full_seeds,
            k,
            collect_trace,
            load_requirements([project.specs()]) if in_areas else None,
        )
    except SpecError as exc:
        raise fail(str(exc), 2) from None
    except validate_run.PlanError as exc:
        unknown = unknown_ids(k, project.specs()) + ": no campaign run" if exc.exit_status == 5 else ""
        raise fail(f"{exc}{unknown}", exc.exit_status) from None
    folder = new_run_dir(project.reports(), "validation", folder="validation")
    events.emit("validation", folder=folder.resolve())
    planned = validate_run.campaigns(plan, folder, report, all_reports, cluster.operator(scheduler))
    runs, attempts = _run(planned.campaigns, jobs, scheduler)
    outcomes = validate_run.outcomes(plan, planned, runs, attempts)
    nominal_dir = project.reports() / "runs" / str(runs[0].run_id)
    text = validate_run.write_matrix(folder, nominal_dir, outcomes, plan.scope)
    try:  # with the matrix
        finish(nominal_dir, say, event=seal.REBUILT if report else seal.ATTACHED, report=report)
    except RunStop as stop:
        raise stopped(stop) from None
    _say_done(plan, k, text, nominal_dir, folder, report, all_reports)
    judged_by = validate_run.claims_judged_by(runs)
    if len(judged_by) > 1:
        err.print(
            "validation: its campaigns were judged against different claims files (a rig naming other claims): "
            "the nominal rig's clean run says nothing of the defect rigs' bounds",
            markup=False,
        )
    raise typer.Exit(0 if all(o.ok for o in outcomes) and len(judged_by) == 1 else 1)


def _run(
    campaigns: list[cluster.Campaign], jobs: int, scheduler: str | None
) -> tuple[list[cluster.Ran], dict[str, cluster.Attempts]]:
    """Every campaign run, here or on the scheduler's workers; exit 2 when one started no run."""
    try:
        runs, attempts = cluster.run_all(campaigns, jobs, scheduler, _campaign_done(len(campaigns)))
    except cluster.ClusterError as exc:
        raise fail(f"hil validate: {exc}", 2) from None
    except KeyboardInterrupt:
        raise fail(
            "hil validate: interrupted: no matrix; the campaigns running on this machine stopped their pumps and "
            "sealed their runs as interrupted (a run that had run nothing is discarded), the queued ones never started",
            130,
        ) from None
    for campaign, ran in zip(campaigns, runs, strict=True):
        if ran.run_id is None:
            raise fail(f"{campaign.rig_file}: hil verify started no run ({ran.worker}):\n{ran.output_tail}", 2)
    return runs, attempts


def _say_done(
    plan: validate_run.Plan,
    k: str | None,
    matrix: str,
    nominal_dir: Path,
    folder: Path,
    report: bool,
    all_reports: bool,
) -> None:
    if plan.selected is not None:
        out.print(f"the tests -k {k!r} selects, judging {len(plan.selected)} requirement(s)", markup=False)
    out.print(matrix, markup=False)
    if report and not all_reports:
        out.print(
            f"HTML report: {nominal_dir / 'report' / 'index.html'}; every campaign's record, raw data and seal are in "
            "its run folder (detection-matrix.json), `hil report RUN` builds its HTML report (figures: --all-reports)",
            markup=False,
        )
    elif not report:
        out.print(f"no HTML report (--no-report): `hil report {nominal_dir}` builds the nominal run's", markup=False)
    out.print(f"validation: {folder}", markup=False)


def _campaign_done(total: int):
    """A line as each campaign ends: how many are done, the wall time so far and the ETA at the pace so far."""
    started = time.monotonic()

    def done(campaign: cluster.Campaign, ran: cluster.Ran, n: int) -> None:
        elapsed = time.monotonic() - started
        eta = datetime.now(UTC) + timedelta(seconds=elapsed / n * (total - n))
        out.print(
            f"validate: {n}/{total} campaigns done ({campaign.rig}"
            + (f" seed {campaign.seed}" if campaign.seed is not None else "")
            + f": {ran.run_id}), {elapsed / 60:.1f} min, ETA {eta:%H:%M} UTC",
            markup=False,
        )

    return done
