"""The emulated pump's reservoir (docs/protocol.md §1, "Timing of delivery"): the firmware counts what is left from
the fill, alerts once at the low-reservoir amount, alarms and stops at the end of its count; the reservoir holds what
it holds, so strokes larger than the count's empty it first; a new reservoir fitted starts all of it again."""

import pytest

from hil.emulation.options import Defects, EmulatorConfig
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

EVENTS: list[tuple[str, dict]] = []


def world_with(**config) -> World:
    EVENTS.clear()
    return World(EmulatorConfig(**config), lambda kind, fields: EVENTS.append((kind, fields)), lambda line: None)


def ask(pump, word, *args):
    return dict(arg.split("=", 1) for arg in pump.handle(Frame("1", word, args)))


def alarms(kind: str) -> list[dict]:
    return [fields for event, fields in EVENTS if event == "ALARM" and fields["kind"] == kind]


def run_basal(world: World, fill_U: float, rate: float, hours: float) -> None:
    world.pump.fit_reservoir(fill_U)
    ask(world.pump, "BASAL", f"{rate:.3f}")
    ask(world.pump, "RESUME")
    world.advance(hours * 3600.0)


def arrived_U(world: World) -> float:
    return world.inspect()["arrived_uL"] / 10.0 + world.inspect()["stored_uL"] / 10.0


def test_the_alert_comes_once_at_its_amount_and_the_empty_alarm_stops_delivery():
    world = world_with()
    ask(world.pump, "RESALERT", "10")
    run_basal(world, 20.0, 10.0, 3.0)
    low, empty = alarms("RESERVOIR_LOW"), alarms("RESERVOIR_EMPTY")
    assert len(low) == 1 and low[0]["priority"] == "LOW"
    assert len(empty) == 1 and empty[0]["priority"] == "HIGH"
    # the alert after 10 U at 10 U/h (1 h, after the slack's strokes), the alarm after 20 U
    assert 3600.0 <= float(empty[0]["t"]) - float(low[0]["t"]) <= 3600.0 + 20
    assert ask(world.pump, "STATUS")["state"] == "ALARM"
    assert float(ask(world.pump, "STATUS")["reservoir"]) < 0.05


def test_strokes_larger_than_counted_empty_the_reservoir_before_the_count():
    world = world_with(defects=Defects(stroke_volume_bias=0.08))
    run_basal(world, 20.0, 10.0, 3.0)
    assert arrived_U(world) == pytest.approx(20.0, abs=0.05)  # all it held, though the count is not yet at 0
    assert float(ask(world.pump, "STATUS")["delivered"]) == pytest.approx(20.0 - 0.05, abs=0.06)  # as counted


def test_a_late_alert_comes_at_a_fifth_of_its_amount():
    world = world_with(defects=Defects(low_reservoir_alert_late=True))
    ask(world.pump, "RESALERT", "20")
    run_basal(world, 30.0, 10.0, 2.0)  # 20 U counted: 10 U left, above a fifth of 20
    assert alarms("RESERVOIR_LOW") == []
    world.advance(3600.0)
    assert len(alarms("RESERVOIR_LOW")) == 1


def test_an_undetected_empty_reservoir_goes_on_counting_what_it_cannot_deliver():
    world = world_with(defects=Defects(empty_reservoir_not_detected=True))
    run_basal(world, 10.0, 10.0, 2.0)
    assert alarms("RESERVOIR_EMPTY") == []
    assert ask(world.pump, "STATUS")["state"] == "RUNNING"
    assert float(ask(world.pump, "STATUS")["delivered"]) == pytest.approx(20.0, abs=0.1)
    assert arrived_U(world) == pytest.approx(10.0, abs=0.05)


def test_a_new_reservoir_clears_the_old_ones_alarms_and_alerts_again():
    world = world_with()
    ask(world.pump, "RESALERT", "10")
    run_basal(world, 12.0, 10.0, 2.0)
    assert len(alarms("RESERVOIR_EMPTY")) == 1
    run_basal(world, 12.0, 10.0, 2.0)  # the fit leaves the pump SUSPENDED, the old alarms acknowledged: RESUME takes
    assert len(alarms("RESERVOIR_LOW")) == 2 and len(alarms("RESERVOIR_EMPTY")) == 2


@pytest.mark.parametrize("amount", ["9.95", "40.05", "12.33", "x"])
def test_an_alert_outside_its_range_or_grid_is_refused_and_changes_nothing(amount):
    world = world_with()
    with pytest.raises(Refused) as info:
        world.pump.handle(Frame("1", "RESALERT", (amount,)))
    assert info.value.code == "BAD_ARGUMENT"
    assert ask(world.pump, "RESALERT") == {"reservoir_alert": "20.000"}
