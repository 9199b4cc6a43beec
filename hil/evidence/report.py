"""The run's HTML report (the pinned Allure 3 CLI, single file) and `reports/latest`; the manifest and seal
are in hil.evidence.seal."""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from hil import project

ALLURE_CLI = Path("node_modules") / ".bin" / "allure"  # the pinned CLI (package-lock.json), under the project root
REPORT_TIMEOUT_S = 600


class ReportError(Exception):
    pass


def write_allure_environment(results: Path, record: dict) -> None:
    results.mkdir(parents=True, exist_ok=True)
    prov, rig = record["provenance"], record.get("rig") or {}
    identities = rig.get("identities", {})
    pump, scale = identities.get("pump", {}), identities.get("scale", {})
    config = rig.get("effective_config") or {}
    lines = {
        "run": record["run_id"],
        "started": record.get("started"),
        "finished": record.get("finished"),
        "suite": prov["suite_version"],
        "git_commit": prov["git"].get("commit"),
        "git_dirty": prov["git"].get("dirty"),
        "lock_files": " ".join(f"{k}:{v[:16]}" for k, v in prov.get("lock_files", {}).items()),
        "spec_files": " ".join(f"{k}:{v[:16]}" for k, v in prov.get("spec_files", {}).items()),
        "rig": rig.get("id"),
        "rig_sha256": rig.get("sha256"),
        "pump": " ".join(str(pump.get(k, "")) for k in ("model", "serial", "firmware", "protocol")),
        "balance": " ".join(str(scale.get(k, "")) for k in ("model", "serial")),
        "drivers": " ".join(
            f"{section}={d['driver']}({d['package']} {d['version']})"
            for section, d in (rig.get("drivers") or {}).items()
        ),
        "operator": prov["operator"],
        "host": prov.get("host"),
    }
    place = rig.get("labgrid")
    if place:
        lines["labgrid_place"] = f"{place['place']} of {place['coordinator']}, held by {place['holder']}"
        lines["labgrid_resources"] = " ".join(f"{name}={url}" for name, url in sorted(place["ports"].items()))
    for place, unit in (record.get("units") or {}).items():  # a run across labgrid places: a pump unit each
        unit_pump = unit.get("pump") or {}
        held = unit.get("labgrid") or {}
        lines[f"unit_{place}"] = " ".join(str(unit_pump.get(k, "")) for k in ("model", "serial", "firmware")) + (
            f", place {place} of {held['coordinator']} held by {held['holder']}" if held else ""
        )
    for section in ("scale", "lost_scale"):
        calibration = (config.get(section) or {}).get("calibration")
        if calibration:
            lines[f"{section}_calibration"] = " ".join(f"{k}={v}" for k, v in calibration.items())
    (results / "environment.properties").write_text("".join(f"{k}={v}\n" for k, v in lines.items()), encoding="utf-8")


def add_document(
    results: Path, name: str, text: str, attachments: dict[str, tuple[str, str, str]], status: str = "passed"
) -> None:
    """A page of the report that is not a test: an Allure result under the "Audit" epic carrying documents
    (attachments: name → (content, MIME type, file extension)), e.g. the traceability matrix or the tool's
    detection matrix. status "failed" when the document records a failed gate."""
    results.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    files = []
    for title, (content, mime, ext) in attachments.items():
        source = f"{uuid.uuid4()}-attachment.{ext}"
        (results / source).write_text(content, encoding="utf-8")
        files.append({"name": title, "source": source, "type": mime})
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(name.encode()).hexdigest(),
        "name": name,
        "fullName": f"audit: {name}",
        "status": status,
        "stage": "finished",
        "start": now,
        "stop": now,
        "description": text,
        "attachments": files,
        "labels": [
            {"name": "epic", "value": "Audit"},
            {"name": "story", "value": name},
            {"name": "suite", "value": "Audit"},
        ],
    }
    (results / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")


def allure_cli() -> Path:
    """The Allure 3 CLI: the project root's pinned one (npm ci), else `allure` on the PATH."""
    pinned = project.root() / ALLURE_CLI
    found = pinned if pinned.exists() else shutil.which("allure")
    if found is None:
        raise ReportError(f"no Allure CLI: not at {pinned} (./scripts/setup.sh runs npm ci) nor `allure` on the PATH")
    return Path(found)


def generate_report(run_dir: Path, name: str, history: Path | None = None) -> Path:
    """The single-file report of a run; with a history file (one per rig, in reports/history/), each test's
    history and the trend across the rig's runs are kept and shown."""
    output = run_dir / "report"
    command = [
        str(allure_cli()),
        "awesome",
        str(run_dir / "allure-results"),
        "--single-file",
        "-o",
        str(output),
        "--name",
        name,
        "--group-by",
        "epic,story",
    ]
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        command += ["--history-path", str(history)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, start_new_session=True
        )  # a terminal's Ctrl-C must not cut a seal short
    except subprocess.TimeoutExpired:
        raise ReportError(f"allure did not finish within {REPORT_TIMEOUT_S} s") from None
    if done.returncode != 0 or not (output / "index.html").exists():
        raise ReportError(f"allure failed (exit {done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    return output / "index.html"


def point_latest(reports: Path, run_dir: Path) -> None:
    latest = reports / "latest"
    tmp = reports / f".latest.{os.getpid()}.tmp"  # per process: concurrent runs must not share it
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(run_dir, reports))
    os.replace(tmp, latest)


def resolve_run(reports: Path, run: str | None) -> Path:
    if run is None:
        path = reports / "latest"
    else:
        path = Path(run)
        if not path.exists():
            path = reports / "runs" / run
    if not path.exists():
        raise ReportError(f"no run at {path}")
    return path.resolve()
