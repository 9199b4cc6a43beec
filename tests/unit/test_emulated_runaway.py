"""The emulated pump's supervisor against an injected runaway motor (docs/protocol.md §1, INJECT): the runaway strokes
at the prime speed with no command, the supervisor cuts the motor's power at its trip count and raises a HIGH
DELIVERY_FAULT that stops the pump; the seeded runaway_not_detected lets it run; INJECT NONE ends it."""

import pytest

from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

EVENTS: list[tuple[str, dict]] = []


def world_with(**config) -> World:
    EVENTS.clear()
    world = World(EmulatorConfig(**config), lambda kind, fields: EVENTS.append((kind, fields)), lambda line: None)
    ask(world, "RESUME")
    return world


def ask(world, word, *args):
    return dict(arg.split("=", 1) for arg in world.pump.handle(Frame("1", word, args)))


def moved_U(world) -> float:
    truth = world.inspect()
    return (truth["arrived_uL"] + truth["stored_uL"]) / 10.0


def test_the_supervisor_stops_a_runaway_at_its_trip_count_with_a_high_alarm():
    world = world_with(pump=PumpParams(slack_U=0.0, stroke_cv=0.0))
    assert ask(world, "INJECT", "RUNAWAY_MOTOR") == {"injected": "RUNAWAY_MOTOR"}
    world.advance(600.0)
    assert [(f["kind"], f["priority"]) for kind, f in EVENTS if kind == "ALARM"] == [("DELIVERY_FAULT", "HIGH")]
    assert moved_U(world) == pytest.approx(2 * 0.05)  # two strokes of 0.05 U at 0.2 s each, none counted
    assert ask(world, "STATUS")["state"] == "ALARM" and float(ask(world, "STATUS")["delivered"]) == 0.0
    assert ask(world, "INJECT", "NONE") == {"injected": "NONE"}


def test_an_undetected_runaway_runs_at_full_speed_until_it_is_cleared():
    world = world_with(pump=PumpParams(slack_U=0.0, stroke_cv=0.0), defects=Defects(runaway_not_detected=True))
    ask(world, "INJECT", "RUNAWAY_MOTOR")
    world.advance(60.0)
    assert [kind for kind, _ in EVENTS] == [] and moved_U(world) == pytest.approx(15.0, abs=0.06)  # 15 U/min
    ask(world, "INJECT", "NONE")
    world.advance(60.0)
    assert moved_U(world) == pytest.approx(15.0, abs=0.06)


def test_an_unknown_fault_is_refused():
    world = world_with()
    with pytest.raises(Refused) as info:
        world.pump.handle(Frame("1", "INJECT", ("PLUNGER_SLIP",)))
    assert info.value.code == "BAD_ARGUMENT"
    assert ask(world, "INJECT", "NONE") == {"injected": "NONE"}
