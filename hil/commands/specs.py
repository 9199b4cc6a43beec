"""`hil specs check` and `hil specs claims`."""

from pathlib import Path

import typer

from hil import project
from hil.commands.console import SPECS_HELP, commands, err, fail, out
from hil.procedures.scenario_files import scenario_problems
from hil.specs import SpecError, load_requirements
from hil.specs.document import document

app = commands("Requirement files.")
CLAIMS_HELP = "the pump model's claims file (default: claims/reference-pump.yaml)"


@app.command("check")
def check(
    paths: list[Path] = typer.Argument(
        None, help="files or directories (default: the project's specs/, else the reference requirements)"
    ),
    claims: Path | None = typer.Option(None, "--claims", help=CLAIMS_HELP),
):
    """Validate requirement files with the claims of a pump model, and the scenario files their cases name; every
    problem is listed with file:line."""
    try:
        requirements = load_requirements(paths or None, claims)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise fail(f"{len(exc.problems)} problem(s)") from None
    bad = scenario_problems(r for r in requirements.values() if not r.not_applicable)
    if bad:
        for line in bad:
            err.print(line.strip(), markup=False)
        raise fail(f"{len(bad)} unusable scenario file(s)")
    files = sorted({str(r.file) for r in requirements.values()})
    out.print(f"ok: {len(requirements)} requirements in {len(files)} file(s): {', '.join(files)}")
    device = next(iter(requirements.values())).device
    not_applicable = sorted(rid for rid, r in requirements.items() if r.not_applicable)
    unclaimed = sum(len(r.unclaimed) for r in requirements.values() if not r.not_applicable)
    out.print(
        f"claims of {device}: {len(requirements) - len(not_applicable)} requirement(s) apply, "
        f"{len(not_applicable)} not applicable{': ' + ', '.join(not_applicable) if not_applicable else ''}; "
        f"{unclaimed} bound(s) not judged for want of a claim",
        markup=False,
    )


@app.command("claims")
def claims(
    claims: Path | None = typer.Option(None, "--claims", help=CLAIMS_HELP),
    specs: Path | None = typer.Option(None, "--specs", help=SPECS_HELP),
):
    """Every claim the requirements take from a pump model's claims file, with the requirements taking it, and each
    requirement's hazard, property and the origin of its bounds, as Markdown (the generated part of
    docs/requirements.md, for the reference pump)."""
    try:
        requirements = load_requirements([specs or project.specs()], claims)
    except SpecError as exc:
        raise fail(str(exc)) from None
    out.print(document(requirements), end="", markup=False, highlight=False, soft_wrap=True)
