"""The emulated pump's basal programme by time of day (docs/protocol.md §1, SEGMENT and TIME): the programme takes
effect whole at its last segment, the rate follows the pump's time of day across segment starts and clock changes,
and a clock set forward or back delivers what the programme gives at the new time; the two seeded defects owe basal
by the time of day instead (the skipped time's basal at once, or none until the old time is back)."""

import pytest

from hil.emulation.options import Defects, EmulatorConfig, PumpParams
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

# the time-of-day requirements' programme: 1 U/h, 2 U/h from 02:00, 1 U/h from 03:00
PROGRAMME = (("00:00", "1.000"), ("02:00", "2.000"), ("03:00", "1.000"))


def world_with(**config) -> World:
    world = World(EmulatorConfig(**config), lambda kind, fields: None, lambda line: None)
    ask(world, "RESUME")
    return world


def ask(world, word, *args):
    return dict(arg.split("=", 1) for arg in world.pump.handle(Frame("1", word, args)))


def program(world, segments=PROGRAMME) -> dict:
    reply = {}
    for i, (start, rate) in enumerate(segments):
        reply = ask(world, "SEGMENT", str(i), str(len(segments)), start, rate)
    return reply


def counted_over(world, seconds: float) -> float:
    before = float(ask(world, "STATUS")["delivered"])
    world.advance(seconds)
    return float(ask(world, "STATUS")["delivered"]) - before


def exact_pump(**defects) -> World:
    return world_with(pump=PumpParams(slack_U=0.0, stroke_cv=0.0), defects=Defects(**defects))


def test_a_programme_takes_effect_at_its_last_segment_and_is_answered_with_its_daily_total():
    world = exact_pump()
    ask(world, "BASAL", "0.5")
    assert ask(world, "SEGMENT", "0", "3", "00:00", "1.000") == {"received": "1", "count": "3", "daily": "12.000"}
    assert ask(world, "STATUS")["basal"] == "0.500"  # not yet: the one in effect stays
    assert program(world) == {"received": "3", "count": "3", "daily": "25.000"}
    assert ask(world, "SEGMENT") == {"received": "3", "count": "3", "daily": "25.000"}


@pytest.mark.parametrize(
    "segments",
    [
        (("01:00", "1.000"),),  # the first not at midnight
        (("00:00", "1.000"), ("00:00", "2.000")),  # not after the one before
        (("00:00", "1.000"), ("25:00", "2.000")),  # no time of day
        (("00:00", "1.000"), ("02:00", "0.033")),  # off the increment
    ],
)
def test_a_bad_segment_is_refused_and_leaves_the_programme_in_effect(segments):
    world = exact_pump()
    ask(world, "BASAL", "0.5")
    with pytest.raises(Refused) as info:
        program(world, segments)
    assert info.value.code == "BAD_ARGUMENT"
    assert ask(world, "SEGMENT") == {"received": "1", "count": "1", "daily": "12.000"}


def test_a_segment_out_of_order_starts_the_programme_again():
    world = exact_pump()
    ask(world, "SEGMENT", "0", "2", "00:00", "1.000")
    with pytest.raises(Refused):
        ask(world, "SEGMENT", "0", "3", "00:00", "1.000") and ask(world, "SEGMENT", "2", "3", "02:00", "1.000")
    assert program(world)["daily"] == "25.000"


def test_the_rate_follows_the_time_of_day_across_segment_starts():
    world = exact_pump()
    program(world)
    assert ask(world, "TIME", str(1.5 * 3600)) == {"tod": "5400.000"}
    assert ask(world, "STATUS")["basal"] == "1.000"
    assert counted_over(world, 3600.0) == pytest.approx(0.5 + 1.0, abs=0.051)  # 01:30-02:00 at 1, 02:00-02:30 at 2
    assert ask(world, "STATUS")["basal"] == "2.000"
    world.advance(1800.0)
    assert ask(world, "STATUS")["basal"] == "1.000"
    assert float(ask(world, "TIME")["tod"]) == pytest.approx(3 * 3600.0, abs=0.01)


@pytest.mark.parametrize(("at", "to"), [("02:00", "03:00"), ("02:00", "01:00"), ("23:30", "00:30")])
def test_a_clock_change_delivers_the_programme_at_the_new_time(at, to):
    world = exact_pump()
    program(world)
    seconds = {text: int(text[:2]) * 3600 + int(text[3:]) * 60 for text in (at, to)}
    ask(world, "TIME", str(seconds[at]))
    ask(world, "TIME", str(seconds[to]))
    assert counted_over(world, 3600.0) == pytest.approx(1.0, abs=0.051)  # 03:00-04:00, 01:00-02:00, 00:30-01:30


def test_seeded_catch_up_delivers_the_skipped_hour_at_once():
    world = exact_pump(clock_forward_catches_up=True)
    program(world)
    ask(world, "TIME", str(2 * 3600))
    assert counted_over(world, 60.0) == pytest.approx(2.0, abs=0.051)  # 00:00-02:00 at 1 U/h, at the full speed
    ask(world, "TIME", str(3 * 3600))
    assert counted_over(world, 60.0) == pytest.approx(2.0, abs=0.051)  # 02:00-03:00 at 2 U/h
    ask(world, "TIME", str(1 * 3600))  # back: nothing owed, nothing held
    assert counted_over(world, 3600.0) == pytest.approx(1.0, abs=0.051)


def test_seeded_hold_delivers_nothing_until_the_old_time_is_back():
    world = exact_pump(clock_back_holds_basal=True)
    program(world)
    ask(world, "TIME", str(2 * 3600))
    ask(world, "TIME", str(1 * 3600))
    assert counted_over(world, 3500.0) == 0.0
    assert counted_over(world, 3600.0) == pytest.approx(2.0, abs=0.11)  # 02:00-03:00 at 2 U/h, from the old time on


def test_a_stop_ends_a_seeded_catch_up():
    world = exact_pump(clock_forward_catches_up=True)
    program(world)
    ask(world, "TIME", "0")
    ask(world, "TIME", str(10 * 3600))
    ask(world, "STOP")
    assert counted_over(world, 600.0) == 0.0


def test_basal_gives_one_rate_all_day():
    world = exact_pump()
    program(world)
    ask(world, "BASAL", "1.5")
    ask(world, "TIME", str(2 * 3600 + 60))
    assert ask(world, "STATUS")["basal"] == "1.500" and ask(world, "SEGMENT")["daily"] == "36.000"


def test_a_time_of_day_outside_a_day_is_refused():
    world = exact_pump()
    for bad in ("86400", "-1", "noon"):
        with pytest.raises(Refused) as info:
            ask(world, "TIME", bad)
        assert info.value.code == "BAD_ARGUMENT"


def test_a_stop_ends_a_seeded_hold():
    world = exact_pump(clock_back_holds_basal=True)
    program(world)
    ask(world, "TIME", str(2 * 3600))
    ask(world, "TIME", str(1 * 3600))  # held for an hour
    ask(world, "STOP")
    ask(world, "RESUME")
    assert counted_over(world, 3600.0) == pytest.approx(1.0, abs=0.051)  # 01:00-02:00 at 1 U/h: the hold forgotten


def test_a_new_programme_or_basal_ends_a_seeded_hold():
    for again in (lambda w: program(w), lambda w: ask(w, "BASAL", "1.000")):
        world = exact_pump(clock_back_holds_basal=True)
        program(world)
        ask(world, "TIME", str(2 * 3600))
        ask(world, "TIME", str(1 * 3600))
        again(world)
        assert counted_over(world, 1800.0) == pytest.approx(0.5, abs=0.051)


def test_a_pump_that_takes_a_time_change_only_paused_refuses_it_running():
    world = world_with(pump=PumpParams(time_change_needs_pause=True))
    with pytest.raises(Refused) as info:
        ask(world, "TIME", "3600")
    assert info.value.code == "NOT_ALLOWED"
    ask(world, "SUSPEND")
    assert ask(world, "TIME", "3600") == {"tod": "3600.000"}


def test_seeded_am_pm_swap_reads_the_programme_12_h_off():
    world = exact_pump(clock_am_pm_swapped=True)
    program(world)
    ask(world, "TIME", str(14 * 3600 + 30 * 60))  # shows 14:30, the programme read at 02:30
    assert ask(world, "STATUS")["basal"] == "2.000" and ask(world, "TIME") == {"tod": "52200.000"}


def test_the_time_of_day_is_answered_within_a_day():
    world = exact_pump()
    ask(world, "TIME", "86399.9996")
    assert float(ask(world, "TIME")["tod"]) < 86_400
