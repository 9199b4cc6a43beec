"""The run's HTML report (the pinned Allure 3 CLI, single file) and `reports/latest`; the manifest and seal
are in hil.evidence.seal."""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from hil import project
from hil.evidence import report_input
from hil.evidence.report_input import AUDIT
from hil.evidence.run_kind import RunKind

ALLURE_CLI = Path("node_modules") / ".bin" / "allure"  # the pinned CLI (package-lock.json), under the project root
REPORT_TIMEOUT_S = 600
ABOUT = "about.json"  # beside index.html: the report's title, overview and metadata as plain data
ABOUT_TEXT = "about-this-run.txt"  # the same in full, among the audit documents
# Allure's report template loads Google Analytics and sends it the report's id on every opening (plugin-awesome's
# generators.js, `analyticsEnable: true` with no option to turn it off): taken out, so a report opened by an
# auditor, or on a closed lab network, asks nothing of any host.
ANALYTICS = re.compile(
    r"<script async src=\"https://www\.googletagmanager\.com/gtag/js\?id=[^\"]*\"></script>"
    r"\s*<script>\s*window\.dataLayer = .*?</script>",
    re.DOTALL,
)


class ReportError(Exception):
    pass


def environment(record: dict) -> dict[str, str]:
    """The report's metadata: what ran, on what, by whom; identities with their field names and hashes in full."""
    prov, rig = record["provenance"], record.get("rig") or {}
    identities = rig.get("identities", {})
    config = rig.get("effective_config") or {}
    lines = {
        "run": record["run_id"],
        "started": record.get("started"),
        "finished": record.get("finished"),
        "suite": prov["suite_version"],
        "git_commit": prov["git"].get("commit"),
        "git_dirty": prov["git"].get("dirty"),
        "rig": rig.get("id"),
        "rig_file": f"{rig.get('file')} sha256:{rig.get('sha256')}",
        "clock": rig.get("clock"),
    }
    for section in ("pump", "scale", "lost_scale"):
        identity = identities.get(section) or {}
        if identity:
            lines[section] = ", ".join(f"{k} {v}" for k, v in identity.items())
    lines["drivers"] = "; ".join(
        f"{section}: {d['driver']} ({d['package']} {d['version']})" for section, d in (rig.get("drivers") or {}).items()
    )
    for section in ("scale", "lost_scale"):
        calibration = (config.get(section) or {}).get("calibration")
        if calibration:
            lines[f"{section}_calibration"] = ", ".join(f"{k} {v}" for k, v in calibration.items())
    for section in ("environment", "evaporation_correction", "insulin"):
        if config.get(section):
            lines[section] = ", ".join(f"{k} {v}" for k, v in config[section].items())
    lines |= {f"sha256 {name}": digest for name, digest in prov.get("spec_files", {}).items()}
    lines |= {f"sha256 {name}": digest for name, digest in prov.get("claims_file", {}).items()}
    lines |= {f"sha256 {name}": digest for name, digest in prov.get("lock_files", {}).items()}
    lines |= {"operator": prov["operator"], "host": prov.get("host")}
    place = rig.get("labgrid")
    if place:
        lines["labgrid_place"] = f"{place['place']} of {place['coordinator']}, held by {place['holder']}"
        lines["labgrid_resources"] = " ".join(f"{name}={url}" for name, url in sorted(place["ports"].items()))
    for place, unit in (record.get("units") or {}).items():  # a run across labgrid places: a pump unit each
        unit_pump = unit.get("pump") or {}
        held = unit.get("labgrid") or {}
        lines[f"unit_{place}"] = ", ".join(f"{k} {v}" for k, v in unit_pump.items()) + (
            f"; place {place} of {held['coordinator']} held by {held['holder']}" if held else ""
        )
    return {k: str(v) for k, v in lines.items()}


def about_text(title: str, overview: dict[str, str], environment: dict[str, str]) -> str:
    """The report's title, overview and metadata in full, one `name: value` line each (the report's own view cuts
    long values short on screen): the first of its global attachments."""
    lines = [title, ""] + [f"{k}: {v}" for k, v in overview.items()] + [""]
    return "\n".join(lines + [f"{k}: {v}" for k, v in environment.items()]) + "\n"


def add_document(run_dir: Path, files: dict[str, str]) -> None:
    """Audit documents of the run (file name → content: the traceability matrix, the tool's detection matrix),
    kept in its `audit/` folder and shown as the report's global attachments, not as tests."""
    folder = run_dir / AUDIT
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")


def allure_cli() -> Path:
    """The Allure 3 CLI: the project root's pinned one (npm ci), else `allure` on the PATH."""
    pinned = project.root() / ALLURE_CLI
    found = pinned if pinned.exists() else shutil.which("allure")
    if found is None:
        raise ReportError(f"no Allure CLI: not at {pinned} (./scripts/setup.sh runs npm ci) nor `allure` on the PATH")
    return Path(found)


def generate_report(
    run_dir: Path, record: dict, kind: RunKind, environment: dict[str, str], seals: list[dict], history: Path
) -> Path:
    """The single-file report of a run, built from its results read beside its record (hil.evidence.report_input)
    in a folder of their own; the history file (one per rig and campaign, in reports/history/) keeps each test's
    history and the trend across that campaign's runs."""
    output = run_dir / "report"
    with tempfile.TemporaryDirectory(prefix=".report-input-", dir=run_dir.parent) as scratch:
        config = report_input.write(run_dir, record, kind, Path(scratch) / "results", environment, seals)
        shown = json.loads(config.read_text(encoding="utf-8"))  # what the report will show, said in full beside it
        add_document(run_dir, {ABOUT_TEXT: about_text(shown["name"], shown["variables"], environment)})
        history.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(allure_cli()),
            "awesome",
            str(Path(scratch) / "results"),
            "--config",
            str(config),
            "--single-file",
            "-o",
            str(output),
            "--group-by",
            "epic,story" if record.get("kind") == "places" else "epic",  # a requirement's units side by side
            "--history-path",
            str(history),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, start_new_session=True
            )  # a terminal's Ctrl-C must not cut a seal short
        except subprocess.TimeoutExpired:
            raise ReportError(f"allure did not finish within {REPORT_TIMEOUT_S} s") from None
    if done.returncode != 0 or not (output / "index.html").exists():
        raise ReportError(f"allure failed (exit {done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    _take_out_analytics(output / "index.html")
    about = {"title": shown["name"], "overview": shown["variables"], "metadata": environment}
    (output / ABOUT).write_text(json.dumps(about, indent=1), encoding="utf-8")
    return output / "index.html"


def _take_out_analytics(index: Path) -> None:
    """The report without Allure's analytics; a report whose call hil cannot find to take out is deleted (a newer
    template than the pinned CLI's): never one that calls Google left in a run to be sealed."""
    cut = ANALYTICS.sub("", index.read_text(encoding="utf-8"), count=1)
    if "googletagmanager" in cut:
        index.unlink()
        raise ReportError(f"{index}: Allure's template calls Google Analytics in a form hil cannot take out")
    index.write_text(cut, encoding="utf-8")


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
