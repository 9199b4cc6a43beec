"""`hil report` (build a run's report and reseal it), `hil evidence verify` and `hil evidence keygen`."""

from pathlib import Path

import typer

from hil import project
from hil.commands.console import commands, err, fail, out, say, stopped
from hil.evidence import seal
from hil.evidence.run import changed_evidence
from hil.run import record as run_record
from hil.run.finish import finish
from hil.run.folder import read_record, resolve
from hil.run.say import RunStop

app = commands("Run evidence.")


def report(run: str | None = typer.Argument(None, help="run folder or id (default: reports/latest)")):
    """(Re)build the HTML report of a run and reseal it; refused when the run no longer matches its seal. A run
    that stopped before its seal (no manifest, not in the ledger) is sealed now, once every finished test's files
    are what its record hashed as the test ended: as complete when its record says it finished without an
    interrupt, as interrupted otherwise."""
    try:
        _seal_again(resolve(run))
    except RunStop as stop:
        raise stopped(stop) from None


def _seal_again(run_dir: Path) -> None:
    ledger_path = seal.ledger.default_path(project.reports())
    entry = seal.last_entry(run_dir, ledger_path)
    if entry is None and not (run_dir / seal.MANIFEST).exists():
        record = read_record(run_dir) or {"tests": {}}
        changed = changed_evidence(record, run_dir)
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise RunStop(1, f"refused: {run_dir.name} was never sealed, and {changed[0]}{more}")
        finish(run_dir, say)
        return
    if entry is not None and seal.sealed_folder(entry, ledger_path) != run_dir.resolve():
        sealed_at = seal.sealed_folder(entry, ledger_path)
        raise RunStop(1, f"refused: {run_dir} is a copy: the ledger seals {run_dir.name} at {sealed_at}")
    problems = seal.check_run(run_dir, ledger_path)
    if problems:
        more = f" (and {len(problems) - 1} more: hil evidence verify {run_dir})" if len(problems) > 1 else ""
        raise RunStop(1, f"refused: {run_dir.name} no longer matches its seal: {problems[0]}{more}")
    assert entry is not None  # check_run reports a run that is not in the ledger
    finish(run_dir, say, event=seal.REBUILT)


@app.command("verify")
def verify(
    run: str | None = typer.Argument(None, help="run folder or id (default: reports/latest)"),
    whole_ledger: bool = typer.Option(False, "--all", help="every run of the ledger, and the ledger"),
    key: Path | None = typer.Option(None, "--key", help="public key file every seal must be signed by"),
):
    """Check a run's files against its manifest, the manifest against its seal in the ledger, the ledger's chain
    and the signature. Every problem is named; exit 1 on any."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        trusted = seal.signing.load_public(key) if key else None
    except seal.signing.SigningKeyError as exc:
        raise fail(str(exc), 2) from None
    if whole_ledger:
        runs, problems = seal.check_ledger(ledger_path, trusted, run_folders=(project.reports() / "runs",))
        ok = f"ok: the ledger {ledger_path} chains intact; each of its {runs} runs matches its last seal"
    else:
        try:
            run_dir = resolve(run)
        except RunStop as stop:
            raise stopped(stop) from None
        checked = run_record.check(run_dir)
        problems = seal.check_run(run_dir, ledger_path, trusted) + checked.problems
        ok = (
            f"ok: every file of {run_dir} matches its manifest, the manifest its seal in {ledger_path}, the chain "
            f"holds; {checked.said()}"
        )
    for problem in problems:
        err.print(problem, markup=False)
    if problems:
        raise fail(f"{len(problems)} problem(s)")
    out.print(ok, markup=False)


@app.command("keygen")
def keygen(
    path: Path = typer.Argument(..., help="private key file to create (mode 0600); the public key goes to PATH.pub"),
):
    """Create an operator's Ed25519 signing key. Seals are signed while HIL_SIGNING_KEY names it."""
    try:
        public_path, public = seal.signing.generate(path)
    except seal.signing.SigningKeyError as exc:
        raise fail(str(exc)) from None
    out.print(
        f"private key: {path} (0600; keep it off shared disks)\npublic key: {public_path}: ed25519:{public}\n"
        f"sign seals: export {seal.signing.KEY_ENV}={path.resolve()}",
        markup=False,
    )
