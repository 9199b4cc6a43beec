"""The plan of `hil verify --places`: the places named, each unit's rig file, and --split's share of the tests."""

import json
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from hil.rig.config import load_rig
from hil.run import places_plan as places

ROOT = Path(__file__).resolve().parents[2]
LAB_RIG = ROOT / "fixtures" / "rigs" / "lab-emulator.yaml"


@pytest.mark.parametrize(
    "text, message",
    [
        ("bench-a,bench a", "'bench a' is not a place name"),
        ("bench-a,,bench-b", "'' is not a place name"),
        ("bench-a,bench-b,bench-a", "bench-a named twice"),
    ],
)
def test_places_are_names_each_named_once(text, message):
    with pytest.raises(places.PlacesError, match=message):
        places.parse(text, load_rig(LAB_RIG))


def test_places_need_a_rig_on_a_labgrid_place():
    with pytest.raises(places.PlacesError, match="has no labgrid: section"):
        places.parse("bench-a", load_rig(ROOT / "fixtures" / "rigs" / "emulator.yaml"))


def test_each_unit_is_the_rig_on_its_place_with_a_seed_of_its_own(tmp_path):
    config = load_rig(LAB_RIG)
    assert places.parse(" bench-a, bench-b", config) == ["bench-a", "bench-b"]
    first, second = (load_rig(places.unit_rig_file(tmp_path, config, p, i)) for i, p in enumerate(["bench-a", "x-2"]))
    assert first.section("labgrid")["place"] == "bench-a" and second.section("labgrid")["place"] == "x-2"
    assert first.section("labgrid")["coordinator"] == config.section("labgrid")["coordinator"]
    seed = config.section("emulator")["seed"]
    assert (first.section("emulator")["seed"], second.section("emulator")["seed"]) == (seed, seed + 1)
    assert first.section("pump") == config.section("pump")


def _timed_run(runs: Path, seconds: dict[str, float]) -> None:
    """A run across places whose unit timed these tests (wall seconds; the rig time is what a lockstep rig
    simulated, which says nothing of what its steps cost)."""
    folder = runs / "20260101T000000Z-x" / "units" / "bench-a"
    folder.mkdir(parents=True)
    tests = {
        node: {"rig_time_s": 1e5 - s, "verdict": "PASS", "phases": {"setup": {"duration_s": 1.0},
                                                                  "call": {"duration_s": s - 1.0}}}
        for node, s in seconds.items()
    }
    (folder / "record.json").write_text(json.dumps({"tests": tests}))


def test_split_puts_the_longest_tests_first_on_the_least_loaded_place_by_earlier_wall_times(tmp_path):
    _timed_run(tmp_path, {"t::a[X-1]": 100.0, "t::b[X-2]": 60.0, "t::c[X-3]": 50.0, "t::d[X-4]": 10.0})
    plan = places.split(["t::a[X-1]", "t::b[X-2]", "t::c[X-3]", "t::d[X-4]", "t::e[X-5]"], ["p1", "p2"], tmp_path)
    # e, never timed, counts as the median 55: a 100 → p1; b 60 → p2; e 55 → p2 (115); c 50 → p1 (150); d 10 → p2
    assert plan == {"p1": ["t::a[X-1]", "t::c[X-3]"], "p2": ["t::b[X-2]", "t::e[X-5]", "t::d[X-4]"]}
    assert sorted(n for nodes in plan.values() for n in nodes) == sorted(["t::a[X-1]", "t::b[X-2]", "t::c[X-3]",
                                                                          "t::d[X-4]", "t::e[X-5]"])


def test_a_places_selection_matches_its_tests_and_no_other():
    nodes = ["tests/safety/test_dose_accuracy.py::test_bolus_accuracy[DA-BOLUS-002]"]
    expression = Expression.compile(places.selection(nodes, "DA-BOLUS or OC-ALARM-003"))
    assert expression.evaluate(lambda s: s.lower() in "test_bolus_accuracy[da-bolus-002]")
    assert not expression.evaluate(lambda s: s.lower() in "test_bolus_accuracy[da-bolus-003]")
    assert places.selection(nodes, None) == "test_bolus_accuracy[DA-BOLUS-002]"
