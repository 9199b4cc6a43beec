"""Resuming an interrupted run (`hil verify --resume RUN`): what is left to run, and the checks that make the
resumed run one run: the evidence of the finished tests is what was recorded (against the run's interrupted seal,
or, if the harness died before sealing, against the hashes the record took as each test ended), and the rig is
the same (its file's effective configuration and its instruments' identities)."""

from pathlib import Path

from hil import project
from hil.evidence import run_kind, seal
from hil.evidence.run import changed_evidence, finished, sha256_file
from hil.rig.config import RigConfig
from hil.specs.claims import ClaimsError, load_claims

IDENTIFIED = ("pump", "scale", "lost_scale")  # instruments whose identity a resumed run must find again


class ResumeRefused(Exception):
    """The run cannot be resumed; the message says why."""


def remaining(record: dict, run_dir: Path, ledger_path: Path) -> list[str]:
    """The selected tests that did not finish, in their order; ResumeRefused for a run that ended complete or
    whose finished tests' evidence no longer matches what was recorded."""
    ended = run_kind.ending(record)
    if ended is not run_kind.Ending.INTERRUPTED:
        raise ResumeRefused(f"{run_dir.name} ended {ended}: only an interrupted run is resumed")
    if seal.last_entry(run_dir, ledger_path) is not None:
        problems = seal.check_run(run_dir, ledger_path)
        if problems:
            raise ResumeRefused(f"{run_dir.name} no longer matches its interrupted seal: {problems[0]}")
    changed = changed_evidence(record, run_dir)
    if changed:
        raise ResumeRefused(changed[0])
    return [nodeid for nodeid in record.get("selected", {}) if not finished(record["tests"].get(nodeid, {}))]


def same_rig(record: dict, config: RigConfig, identities: dict, drivers: dict) -> None:
    """ResumeRefused unless the rig file's effective configuration, every identified instrument and the drivers
    (and their packages' versions) are those the run started with."""
    rig = record.get("rig") or {}
    if rig.get("sha256") != config.sha256:
        raise ResumeRefused(
            f"the rig file {config.path} is not the one the run started with ({rig.get('file')}: "
            "its effective configuration differs)"
        )
    before = rig.get("identities") or {}
    for device in IDENTIFIED:
        if before.get(device) != identities.get(device):
            raise ResumeRefused(
                f"the {device} is not the one the run started with: {before.get(device)} then, "
                f"{identities.get(device)} now"
            )
    if "drivers" in rig and rig["drivers"] != drivers:
        changed = sorted(
            section
            for section in set(rig["drivers"]) | set(drivers)
            if rig["drivers"].get(section) != drivers.get(section)
        )
        raise ResumeRefused(
            "the drivers are not those the run started with: "
            + "; ".join(
                f"{section}: {rig['drivers'].get(section)} then, {drivers.get(section)} now" for section in changed
            )
        )


def same_judging(record: dict, claims: Path) -> None:
    """ResumeRefused unless the requirement files and the claims file are those the run started with: a resumed
    session judged against other figures would make one sealed run of two sets of bounds."""
    provenance = record.get("provenance") or {}
    for name, digest in (provenance.get("spec_files") or {}).items():
        path = project.at_root(Path(name))
        if not path.is_file() or sha256_file(path) != digest:
            raise ResumeRefused(f"the requirement file {name} is not the one the run started with")
    before = provenance.get("claims_file") or {}
    if before and _claims_digest(claims) not in before.values():
        raise ResumeRefused(
            f"the claims file {claims} is not the one the run started with ({', '.join(before)}): its figures "
            "would judge the rest of the run"
        )


def _claims_digest(claims: Path) -> str | None:
    """The digest the run records of the claims it was judged against (a file that extends another: the effective
    claims'); None for claims that no longer load."""
    try:
        return load_claims(claims).sha256
    except ClaimsError:
        return None
