"""A run's folder as the commands name it (a folder, an id, reports/latest) and the record it holds."""

import json
import re
from pathlib import Path

from hil import project
from hil.evidence import report as reporting
from hil.rig.model import RIG_ID_PATTERN
from hil.run.say import RunStop


def resolve(run: str | None) -> Path:
    """The folder of a run given as a folder or an id (None: reports/latest)."""
    try:
        return reporting.resolve_run(project.reports(), run)
    except reporting.ReportError as exc:
        raise RunStop(1, str(exc)) from None


def read_record(run_dir: Path) -> dict | None:
    """A run's record.json; None when there is none; a RunStop that names the file when it is not a record."""
    path = run_dir / "record.json"
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunStop(1, f"{path}: not a readable record: {exc}") from None
    if not isinstance(record, dict) or not isinstance(record.get("tests"), dict):
        raise RunStop(1, f"{path}: not a run record (no 'tests' mapping)")
    return record


def claims_file(run_dir: Path, record: dict) -> Path | None:
    """The claims file a run was judged against, as the run keeps it (None: a run from before claims, judged
    against the reference pump's figures)."""
    claims = record.get("claims")
    return Path(run_dir) / claims["copy"] if claims else None


def rig_id(record: dict) -> str:
    """The rig's id as the validated rig file gave it, never a path from an edited record (it names a file)."""
    rig_id = str((record.get("rig") or {}).get("id") or "")
    return rig_id if re.fullmatch(RIG_ID_PATTERN, rig_id) else "unknown-rig"
