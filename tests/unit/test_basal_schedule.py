"""The contract's basal programme by time of day (hil.drivers.contracts.BasalSchedule): what it delivers over any
span is the sum of its parts, wraps at midnight, and gives known answers; a programme not starting at midnight, or with
segments out of order, is refused when it is made."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.drivers.contracts import DAY_S, BasalSchedule, BasalSegment

PROGRAMME = BasalSchedule((BasalSegment(0, 1.0), BasalSegment(120, 2.0), BasalSegment(180, 1.0)))


@st.composite
def schedules(draw) -> BasalSchedule:
    starts = sorted(draw(st.sets(st.integers(1, DAY_S // 60 - 1), max_size=23)))
    rates = draw(st.lists(st.integers(0, 600).map(lambda k: k * 0.05), min_size=len(starts) + 1, max_size=len(starts) + 1))
    return BasalSchedule(tuple(BasalSegment(s, r) for s, r in zip([0, *starts], rates, strict=True)))


@given(schedules(), st.floats(0, 3 * DAY_S), st.floats(0, 2 * DAY_S), st.floats(0, 1))
def test_a_span_delivers_the_sum_of_its_parts(schedule, start, duration, share):
    first = duration * share
    whole = schedule.insulin_U(start, duration)
    assert whole == pytest.approx(schedule.insulin_U(start, first) + schedule.insulin_U(start + first, duration - first), abs=1e-9)


@given(schedules(), st.floats(0, DAY_S))
def test_a_whole_day_from_any_time_is_the_daily_total(schedule, start):
    assert schedule.insulin_U(start, DAY_S) == pytest.approx(schedule.daily_U, abs=1e-9)
    assert schedule.daily_U == pytest.approx(
        sum(s.rate_U_per_h * ((e.start_min if e else 1440) - s.start_min) / 60.0
            for s, e in zip(schedule.segments, [*schedule.segments[1:], None], strict=True)), abs=1e-9)


def test_known_answers():
    assert PROGRAMME.daily_U == pytest.approx(25.0)
    assert PROGRAMME.rate_at(2 * 3600 - 1) == 1.0 and PROGRAMME.rate_at(2 * 3600) == 2.0
    assert PROGRAMME.rate_at(DAY_S + 2.5 * 3600) == 2.0  # a day later, the same
    assert PROGRAMME.insulin_U(1.5 * 3600, 3600) == pytest.approx(0.5 + 1.0)  # 01:30-02:00 at 1, 02:00-02:30 at 2
    assert PROGRAMME.insulin_U(23.5 * 3600, 3 * 3600) == pytest.approx(0.5 + 2.0 + 1.0)  # to 00:00, to 02:00, to 02:30


@pytest.mark.parametrize("starts", [(60,), (0, 0), (0, 120, 60), (0, 1440)])
def test_a_programme_not_from_midnight_or_out_of_order_is_refused(starts):
    with pytest.raises(ValueError, match="00:00"):
        BasalSchedule(tuple(BasalSegment(s, 1.0) for s in starts))
