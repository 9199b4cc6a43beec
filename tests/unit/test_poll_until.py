"""The one polling loop of the procedures (hil.rig.clock.poll_until): when it polls, when it stops, what it keeps."""

from hypothesis import given
from hypothesis import strategies as st

from hil.rig.clock import END_TOLERANCE_S, poll_until


class _Clock:
    """Rig time that passes only by sleeping, as in lockstep."""

    def __init__(self, now: float = 0.0):
        self.t, self.slept = now, []

    def now(self) -> float:
        return self.t

    def sleep(self, dt: float, meanwhile=None) -> None:
        self.slept.append(dt)
        self.t += dt


def test_it_polls_at_the_start_every_step_and_at_the_end_never_after():
    clock = _Clock(100.0)
    polled = poll_until(clock, clock.now, 100.0 + 25.0, 10.0)
    assert polled.seen == [100.0, 110.0, 120.0, 125.0] and not polled.met
    assert clock.slept == [10.0, 10.0, 5.0]


def test_it_stops_at_the_poll_where_the_condition_holds():
    clock = _Clock()
    polled = poll_until(clock, clock.now, 100.0, 10.0, until=lambda t: t >= 30.0)
    assert polled.seen == [0.0, 10.0, 20.0, 30.0] and polled.met and clock.t == 30.0


def test_a_rounding_residue_of_the_end_is_not_slept_nor_polled_again():
    clock = _Clock(0.1)
    end = 0.1 + 0.2  # 0.30000000000000004: the rig's time will read 0.3 after the sleep below
    polled = poll_until(clock, clock.now, end, 0.2 - END_TOLERANCE_S / 10)
    assert len(polled.seen) == 2 and len(clock.slept) == 1


@given(
    start=st.floats(0, 1e6),
    steps=st.floats(0, 200),
    every=st.floats(0.01, 1e3),
    hold_at=st.one_of(st.none(), st.integers(0, 50)),
)
def test_every_poll_is_within_the_window_and_the_last_at_its_end_unless_the_condition_held(
    start, steps, every, hold_at
):
    length = steps * every
    clock = _Clock(start)
    polls = iter(range(10**9))
    polled = poll_until(
        clock, lambda: (next(polls), clock.now()), start + length, every, until=lambda seen: seen[0] == hold_at
    )
    times = [t for _, t in polled.seen]
    assert times[0] == start and all(start <= t <= start + length + END_TOLERANCE_S for t in times)
    assert all(later > earlier for earlier, later in zip(times, times[1:], strict=False))
    if polled.met:
        assert polled.seen[-1][0] == hold_at
    else:
        assert abs(times[-1] - (start + length)) <= max(END_TOLERANCE_S, 1e-9 * abs(start + length)) + 1e-6
