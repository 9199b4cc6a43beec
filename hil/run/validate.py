"""`hil validate` as steps of the run core, apart from the command that prints them: the plan (which rigs, which
seeds, what each defect must fail), its campaigns (hil.run.cluster runs them), what each campaign showed
(hil.evidence.validation.Outcome) and the matrix attached to the nominal run. Nothing here prints; an input the
plan refuses is a PlanError with the exit status the command ends with."""

import difflib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hil import project
from hil.evidence import report as reporting
from hil.evidence import validation
from hil.evidence.validation import NOMINAL
from hil.rig.config import RigConfig, RigConfigError, load_rig
from hil.run import cluster
from hil.specs.model import Requirement

MATRIX_PREAMBLE = (
    "Tool validation (ISO 13485 §4.1.6): each seeded-defect rig must fail exactly the requirements it declares, and "
    "the nominal rig none; detection and false failures with one-sided 95 % confidence limits (Wilson score)."
)


class PlanError(Exception):
    """An input hil validate refuses before anything runs, with its exit status (2: a bad input; 5: nothing to run)."""

    def __init__(self, message: str, exit_status: int = 2):
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True)
class Plan:
    """The rigs (the nominal first), their validated files, what each must fail and may fail (among the selected
    requirements), the tests' traceability when -k, --full-seeds or --in-areas needs it, the scope said of the
    result, and the tests each defect rig's every-test campaigns leave out (--in-areas)."""

    rigs: list[tuple[str, Path]]
    configs: dict[str, RigConfig]
    expected: dict[str, frozenset[str]]
    tolerated: dict[str, frozenset[str]]
    selected: frozenset[str] | None  # the requirements -k's tests judge (None: no -k)
    trace: dict[str, list[str]]
    scope: validation.Scope
    left_out: dict[str, frozenset[str]] = field(default_factory=dict)  # rig → tests its every-test campaigns skip


def plan(
    defects: Path,
    nominal: Path,
    only: list[str] | None,
    seeds: int,
    full_seeds: int | None,
    k: str | None,
    collect: Callable[[str | None], dict[str, list[str]]],
    in_areas: Mapping[str, Requirement] | None = None,
) -> Plan:
    """The validation's plan; collect(k): the suites' tests that -k selects, node id → requirement ids. With the
    requirements as `in_areas`, a defect rig runs only the tests of the areas of the requirements it declares or may
    fail (hil validate --in-areas)."""
    defect_rigs = sorted(p for p in defects.glob("*.yaml") if not only or p.stem in only)
    if only and len(defect_rigs) != len(set(only)):
        names = sorted(p.stem for p in defects.glob("*.yaml"))
        unknown = [
            name + "".join(f" (did you mean {m[0]}?)" for m in [difflib.get_close_matches(name, names, n=1)] if m)
            for name in sorted(set(only) - {p.stem for p in defect_rigs})
        ]
        raise PlanError(f"unknown defect rig(s) in {defects}: {', '.join(unknown)}")
    rigs = [(NOMINAL, nominal)] + [(p.stem, p) for p in defect_rigs]
    try:
        configs = {name: load_rig(path) for name, path in rigs}
        declared = {name: configs[name].data["seeded_defect"] for name, _ in rigs[1:]}
        expected = {NOMINAL: frozenset()} | {name: frozenset(d["violates"]) for name, d in declared.items()}
        tolerated = {NOMINAL: frozenset()} | {name: frozenset(d.get("may_violate", ())) for name, d in declared.items()}
    except RigConfigError as exc:
        raise PlanError(str(exc)) from None
    except KeyError as exc:
        raise PlanError(f"defect rigs must declare seeded_defect.violates: {exc}") from None
    if in_areas is not None and k is not None:  # -k's selection cut every rig's declarations: some would run nothing
        raise PlanError("--in-areas and -k: choose one (each narrows every defect rig's campaign)")
    if full_seeds is not None and full_seeds > seeds:
        raise PlanError(f"--full-seeds {full_seeds} is more than --seeds {seeds}")
    declared_only = full_seeds is not None and full_seeds < seeds
    trace = collect(k) if k is not None or declared_only or in_areas is not None else {}
    selected = None
    if k is not None:  # the requirements the selected tests judge: a defect is held to its declarations among them
        selected = frozenset(rid for ids in trace.values() for rid in ids)
        if not selected:
            raise PlanError(f"hil: no test selected by -k {k!r}", 5)
        expected = {name: ids & selected for name, ids in expected.items()}
        tolerated = {name: ids & selected for name, ids in tolerated.items()}
    benches = [name for name, config in configs.items() if not config.simulated]
    if seeds > 1 and benches:
        raise PlanError(f"--seeds needs emulated rigs (clock: sim); not: {', '.join(benches)}")
    run = tuple(p.stem for p in defect_rigs)
    catalogue = sorted(p.stem for p in defects.glob("*.yaml"))
    scope = validation.Scope(
        seeds,
        run,
        tuple(n for n in catalogue if n not in run),
        k,
        full_seeds if declared_only else None,
        in_areas is not None,
    )
    left_out = (
        {name: outside_areas(trace, in_areas, expected[name] | tolerated[name]) for name, _ in rigs[1:]}
        if in_areas is not None
        else {}
    )
    return Plan(rigs, configs, expected, tolerated, selected, trace, scope, left_out)


def outside_areas(
    trace: dict[str, list[str]], requirements: Mapping[str, Requirement], declared: frozenset[str]
) -> frozenset[str]:
    """The tests (of `trace`) none of whose requirements is in an area of the `declared` ones (a test judging a
    requirement the specs do not hold stays)."""
    areas = {requirements[rid].area for rid in declared if rid in requirements}

    def outside(rid: str) -> bool:
        return rid in requirements and requirements[rid].area not in areas

    return frozenset(node for node, ids in trace.items() if ids and all(outside(rid) for rid in ids))


def skipping(k: str | None, tests: frozenset[str]) -> str:
    """A -k expression: what `k` selects (everything when None) without the `tests` (node ids, each by its name
    as declared_only names them)."""
    without = "not (" + " or ".join(sorted(node.rsplit("::", 1)[1] for node in tests)) + ")"
    return without if k is None else f"({k}) and {without}"


def declared_only(trace: dict[str, list[str]], declared: frozenset[str]) -> tuple[str, frozenset[str]] | None:
    """A -k expression selecting the tests (of `trace`, node id → requirement ids) that judge a declared requirement,
    and their node ids; None when no test does. Each test by its name (a class's by the test's own): the -k grammar
    takes its brackets and dashes, and matches it within longer names too, which only adds tests to the campaign
    (what it judged is read from its record)."""
    nodes = frozenset(node for node, ids in trace.items() if declared & set(ids))
    return (" or ".join(sorted(node.rsplit("::", 1)[1] for node in nodes)), nodes) if nodes else None


def seeded_rig_file(folder: Path, name: str, rig: Path, seed: int) -> Path:
    """A rig file that is `rig` with the emulator seed `seed`, kept with the validation's results so that its
    campaign can be run again as it was. It extends `rig` by a path relative to itself: a worker on another machine
    may have the shared project folder mounted elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.seed-{seed}.yaml"
    extends = os.path.relpath(rig.resolve(), path.parent.resolve())
    path.write_text(
        f"# {name} with emulator seed {seed} (hil validate --seeds)\n"
        f"extends: {json.dumps(extends)}\nemulator:\n  seed: {seed}\n",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Campaigns:
    """The validation's campaigns, and for each one whose -k the plan built (declared-only, or leaving
    the tests outside a defect's areas out), by its place in the list, the tests it must run."""

    campaigns: list[cluster.Campaign]
    must_run: dict[int, frozenset[str]]


def campaigns(the_plan: Plan, folder: Path, report: bool, all_reports: bool, operator: str) -> Campaigns:
    """Each rig on each seed (the rig file's, then the next ones, their rig files kept in `folder`/rigs); a defect
    rig past its first `every_test_seeds` seeds runs only the tests of the requirements it declares (none: not
    at all), and on those seeds every test but the plan's `left_out` for it. Only the nominal rig's first campaign
    draws figures and builds its report, unless all_reports."""
    scope = the_plan.scope
    found: list[cluster.Campaign] = []
    must_run: dict[int, frozenset[str]] = {}
    for name, path in the_plan.rigs:
        base = int(the_plan.configs[name].section("emulator").get("seed", 1))
        rig_files = [(None if scope.seeds == 1 else base, path)] + [
            (seed, seeded_rig_file(folder / "rigs", name, path, seed)) for seed in range(base + 1, base + scope.seeds)
        ]
        for n, (seed, rig_file) in enumerate(rig_files):
            campaign_k = scope.k
            if name != NOMINAL and n >= scope.every_test_seeds:
                declared_tests = declared_only(the_plan.trace, the_plan.expected[name])
                if declared_tests is None:  # none of its declared requirements selected: nothing for it to show
                    continue
                campaign_k, must_run[len(found)] = declared_tests
            elif left_out := the_plan.left_out.get(name):
                campaign_k, must_run[len(found)] = skipping(scope.k, left_out), frozenset(the_plan.trace) - left_out
            tool_validation = {"id": folder.name, "scope": scope.as_json(), "rig": name, "seed": seed}
            shown = str(project.shown(rig_file))
            built = all_reports or (report and name == NOMINAL and n == 0)
            found.append(cluster.Campaign(folder.name, name, seed, shown, built, campaign_k, tool_validation, operator))
    return Campaigns(found, must_run)


def outcomes(
    the_plan: Plan, planned: Campaigns, runs: list[cluster.Ran], attempts: dict[str, cluster.Attempts]
) -> list[validation.Outcome]:
    """What each campaign showed: the requirements it failed, could not decide, or erred on (no record; a test a
    declared-only campaign had to run and did not select), who ran it, what it judged."""
    found = []
    for n, (campaign, ran) in enumerate(zip(planned.campaigns, runs, strict=True)):
        name, record = campaign.rig, ran.record
        failed, undecided, errored = validation.observed_failures(record) if record else (set(), set(), {"(no record)"})
        unselected = planned.must_run.get(n, frozenset()) - set((record or {}).get("selected") or {})
        if record and unselected:  # a declared requirement's test the -k built for it did not select: not judged
            errored.add(f"(not selected: {', '.join(sorted(unselected))})")
        found.append(
            validation.Outcome(
                name,
                str(ran.run_id),
                the_plan.expected[name],
                frozenset(failed),
                frozenset(errored),
                campaign.seed,
                the_plan.tolerated[name],
                frozenset(undecided),
                tuple(attempts[campaign.key].lost()),
                f"{ran.worker} ({ran.host})",
                frozenset(rid for ids in record["selected"].values() for rid in ids) if record else None,
                record is not None,
            )
        )
    return found


def write_matrix(folder: Path, nominal_dir: Path, found: list[validation.Outcome], scope: validation.Scope) -> str:
    """The detection matrix into the validation's folder and among the nominal run's audit documents; its text."""
    text = validation.matrix_text(found, scope)
    matrix_json = json.dumps(validation.as_json(found, scope), indent=1)
    (folder / "detection-matrix.txt").write_text(text, encoding="utf-8")
    (folder / "detection-matrix.json").write_text(matrix_json, encoding="utf-8")
    documents = {"detection-matrix.txt": f"{MATRIX_PREAMBLE}\n\n{text}", "detection-matrix.json": matrix_json}
    reporting.add_document(nominal_dir, documents)
    return text


def claims_judged_by(runs: list[cluster.Ran]) -> set[tuple[str, ...]]:
    """The claims files the campaigns' bounds came from (one validation judges every rig against one pump model's)."""
    return {tuple(sorted(((ran.record or {}).get("provenance") or {}).get("claims_file", {}).values())) for ran in runs}
