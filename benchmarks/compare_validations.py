"""Two validations' campaigns compared, for a change that must leave every verdict and measurement as it was (issue 31:
cheaper campaigns without weaker evidence).

    .venv/bin/python benchmarks/compare_validations.py [--common] BEFORE/reports/validation/ID \
        AFTER/reports/validation/ID

Each validation folder's detection-matrix.json names its campaigns (rig, seed, run); the runs are in the
reports/runs/ beside it. A campaign is known by its rig and its place among the rig's campaigns (first seed, second,
...), so that a one-seed validation compares with the first seeds of a `--seeds N` one (`--common`: only the
campaigns both ran). For every campaign of BEFORE, the one of AFTER in its place must have the same tests, each
with the same verdict, failure class and measurements (name, value, unit, uncertainty, limits, outcome, exactly),
and the same raw-data files (every CSV of each test's folder, byte for byte). Prints what differs and exits 1 on any
difference.
"""

import json
import sys
from pathlib import Path

MEASURED = ("name", "value", "unit", "uncertainty", "low", "high", "outcome", "source", "tur", "min_tur")


def campaigns(validation: Path) -> dict[tuple[str, int], Path]:
    return {key: run for key, (run, _) in _planned(validation).items()}


def _planned(validation: Path) -> dict[tuple[str, int], tuple[Path, int | None]]:
    """(rig, place among its campaigns) → (run folder, seed: None where the rig file's own)."""
    matrix = json.loads((validation / "detection-matrix.json").read_text())
    runs = validation.parents[1] / "runs"
    places: dict[str, int] = {}
    found = {}
    for run in matrix["runs"]:  # in the order planned: a rig's seeds one after another
        places[run["rig"]] = places.get(run["rig"], -1) + 1
        found[run["rig"], places[run["rig"]]] = (runs / run["run"], run["seed"])
    return found


def judged(run: Path) -> dict[str, tuple]:
    tests = json.loads((run / "record.json").read_text())["tests"]
    return {
        node: (
            test.get("verdict"),
            test.get("failure_class"),
            [tuple(m.get(key) for key in MEASURED) for m in test.get("measurements", [])],
        )
        for node, test in tests.items()
    }


def raw_data(run: Path) -> dict[str, bytes]:
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted((run / "tests").rglob("*.csv"))}


def differences(before: Path, after: Path, common: bool = False) -> list[str]:
    found = []
    old, new = campaigns(before), campaigns(after)
    keys = set(old) & set(new) if common else set(old) | set(new)
    seeds_old, seeds_new = _planned(before), _planned(after)
    for key in sorted(keys, key=str):
        if key not in old or key not in new:
            found.append(f"{key}: only in {'before' if key in old else 'after'}")
            continue
        seeds = seeds_old[key][1], seeds_new[key][1]
        if None not in seeds and seeds[0] != seeds[1]:
            found.append(f"{key}: seed {seeds[0]} before, {seeds[1]} after")
        a, b = judged(old[key]), judged(new[key])
        for node in sorted(set(a) | set(b)):
            if node not in a or node not in b:
                found.append(f"{key} {node}: only in {'before' if node in a else 'after'}")
            elif a[node][:2] != b[node][:2]:
                found.append(f"{key} {node}: verdict {a[node][:2]} -> {b[node][:2]}")
            elif a[node] != b[node]:
                pairs = zip(a[node][2], b[node][2], strict=False)
                changed = [f"{m[0]} {m[1]!r} -> {n[1]!r}" for m, n in pairs if m != n]
                found.append(f"{key} {node}: measurements differ: {'; '.join(changed) or 'their number or order'}")
        ra, rb = raw_data(old[key]), raw_data(new[key])
        for name in sorted(set(ra) | set(rb)):
            if ra.get(name) != rb.get(name):
                found.append(f"{key} raw data {name} differs")
    return found


def main() -> None:
    common = "--common" in sys.argv
    before, after = (Path(arg) for arg in sys.argv[1:] if arg != "--common")
    found = differences(before, after, common)
    compared = {key: run for key, run in campaigns(before).items() if not common or key in campaigns(after)}
    count, tests = len(compared), sum(len(judged(run)) for run in compared.values())
    same = f"identical: {count} campaigns, {tests} tests: verdicts, measurements, raw data"
    print("\n".join(found) if found else same)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
