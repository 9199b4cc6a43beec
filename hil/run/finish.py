"""The end of a run: its traceability gate, what it is (its kind), its outputs, its report, its seal and
reports/latest."""

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hil import project
from hil.evidence import report as reporting
from hil.evidence import report_input, run_kind, seal, traceability
from hil.evidence.measurements import DECISION_RULE
from hil.evidence.run import write_record
from hil.run import outputs
from hil.run.folder import claims_file, read_record, rig_id
from hil.run.say import RunStop, Say
from hil.run.suites import collect_trace
from hil.specs import load_requirements


def trace_gate(run_dir: Path, specs: Path) -> list[str]:
    """The traceability matrix of this run, written into it and into its report; its problems fail the run."""
    record = read_record(run_dir)
    if record is None:
        return [f"{run_dir}: no record.json (pytest did not start the run)"]
    # the suites as this run collected them (a record from before "collected" was kept: collected anew)
    requirements = load_requirements([specs], claims_file(run_dir, record))
    matrix = traceability.build(requirements, record.get("collected") or collect_trace(), record)
    text = traceability.as_text(matrix)
    (run_dir / "traceability.txt").write_text(text, encoding="utf-8")
    (run_dir / "traceability.json").write_text(
        json.dumps({"rows": matrix.rows, "problems": matrix.problems, "notes": matrix.notes}, indent=1),
        encoding="utf-8",
    )
    table = traceability.bound_table(matrix, record)
    (run_dir / "traceability.csv").write_text(table, encoding="utf-8")
    gate = "; ".join(matrix.problems) or "passed: every requirement has a test, none unknown, none all skipped"
    reporting.add_document(
        run_dir,
        {
            "traceability-matrix.csv": table,
            "traceability-gate.txt": f"Traceability gate: {gate}\n\n{text}",
            "decision-rule.txt": DECISION_RULE + "\n",
        },
    )
    return matrix.problems


def finish(run_dir: Path, say: Say, event: str = seal.SEALED, report: bool = True) -> run_kind.RunKind:
    """Say in the record what the run is (hil.evidence.run_kind), then its outputs, the report (unless report is
    False), the manifest, the seal into the ledger (signed with HIL_SIGNING_KEY when set) and reports/latest, which
    never points at a run that stopped at setup (it holds no evidence of the pump). Returns the run's kind; a
    RunStop (exit 1) that says why when the run cannot be sealed."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        key = seal.signing.key_from_env()
    except seal.signing.SigningKeyError as exc:
        raise RunStop(
            1, f"NOT SEALED: {seal.signing.KEY_ENV}: {exc} (fix it, then `hil report {run_dir}` seals the run)"
        ) from None
    record = read_record(run_dir)
    if record is None:
        raise RunStop(1, f"NOT SEALED: {run_dir} has no record.json: nothing says what the run was")
    try:
        kind = run_kind.of(record)
    except (AttributeError, TypeError, KeyError) as exc:  # a record edited out of shape
        raise RunStop(
            1, f"NOT SEALED: {run_dir / 'record.json'} is not a run record ({type(exc).__name__}: {exc})"
        ) from None
    record["run_kind"] = kind.as_record()
    write_record(run_dir, record)
    write_outputs(run_dir, record, say)
    if report:
        _report(run_dir, record, kind, key, say)
    try:
        sealed = seal.seal_run(run_dir, ledger_path, kind, event=event, key=key)
    except seal.SealError as exc:
        raise RunStop(1, f"NOT SEALED: {run_dir}: {exc}") from None
    latest = kind.ending is not run_kind.Ending.STOPPED_AT_SETUP
    if latest:
        reporting.point_latest(project.reports(), run_dir)
    entry = sealed.entry
    signer = f"signed by ed25519:{entry.fields['public_key']}" if key else "unsigned"
    say.out(
        f"manifest: {sealed.files} files hashed in {run_dir / seal.MANIFEST}; "
        + (f"reports/latest → {run_dir}" if latest else "reports/latest unchanged: the run stopped at setup")
    )
    say.out(
        f"manifest sha256: {entry.fields['manifest_sha256']} (it seals the run: {kind.words}, "
        f"{entry.fields['evidence']}, {signer}, chained into the ledger {ledger_path}:{entry.line})"
    )
    return kind


def _report(run_dir: Path, record: dict, kind: run_kind.RunKind, key: Ed25519PrivateKey | None, say: Say) -> None:
    """The HTML report; one line when it cannot be built (the run is sealed all the same)."""
    ledger_path = seal.ledger.default_path(project.reports())
    try:
        index = reporting.generate_report(
            run_dir,
            record,
            kind,
            reporting.environment(record) | seal.shown_in_report(ledger_path, key),
            seal.seals_of(run_dir.name, ledger_path),
            history=project.reports() / "history" / f"{report_input.history_name(record, rig_id(record))}.jsonl",
        )
        say.out(f"report: {index}")
    except reporting.ReportError as exc:
        say.err(f"report not generated: {exc}")
    except (KeyError, TypeError, AttributeError) as exc:  # a record that lacks what the report shows
        say.err(f"report not generated: {run_dir / 'record.json'} lacks {exc}")


def write_outputs(run_dir: Path, record: dict, say: Say) -> None:
    """The installed outputs of the finished run (hil.run.outputs: junit.xml and a lab's own), on its record as the
    published schema types it. A RunStop (exit 1, not sealed) when one changed the record or a test's evidence."""
    for written in outputs.write_all(run_dir, record):
        if written.changed:
            raise RunStop(
                1, f"NOT SEALED: the output {written.name} changed what the run recorded ({'; '.join(written.changed)})"
            )
        if written.error:
            what = "outputs not written" if written.name == "outputs" else f"output {written.name} failed"
            say.err(f"{what}: {written.error}")
        elif written.path:
            say.out(f"{written.name}: {written.path}")
