"""The pump's clock against the rig's over a test (hil.procedures.pump_clock): known answers, and Hypothesis over the
latency of the readings that bracket the pump's."""

from hypothesis import given
from hypothesis import strategies as st

from hil.procedures.pump_clock import ClockReading, mismatch, restarted
from hil.rig.model import PumpClock

TOLERANCE = PumpClock()  # 2 s + 500 ppm


def test_a_pump_keeping_the_rigs_time_matches():
    assert mismatch(ClockReading(100.0, 7.0, 100.0), ClockReading(3700.0, 3607.0, 3700.0), TOLERANCE) is None


def test_a_pump_at_half_the_rate_does_not_and_the_message_says_why():
    problem = mismatch(ClockReading(0.0, 0.0, 0.0), ClockReading(1678.0, 839.0, 1678.0), TOLERANCE)
    assert problem is not None
    assert "advanced 839.0 s while the rig's advanced 1678.0 s" in problem and "on its own time" in problem


def test_a_pump_that_stood_still_while_hours_passed_does_not():
    assert mismatch(ClockReading(0.0, 5.0, 0.0), ClockReading(7200.0, 7.0, 7200.0), TOLERANCE) is not None


def test_the_tolerance_grows_with_the_test():
    # 48 h: 500 ppm is 86 s, so a pump 60 s slow over two days still keeps the rig's time; 100 s slow does not.
    start, length = ClockReading(0.0, 0.0, 0.0), 48 * 3600.0
    assert mismatch(start, ClockReading(length, length - 60.0, length), TOLERANCE) is None
    assert mismatch(start, ClockReading(length, length - 100.0, length), TOLERANCE) is not None


@given(
    offset=st.floats(-1e6, 1e6),
    elapsed=st.floats(0.0, 1e6),
    latency=st.tuples(st.floats(0.0, 30.0), st.floats(0.0, 30.0)),
    where=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_any_latency_of_the_bracketing_readings_is_no_mismatch(offset, elapsed, latency, where):
    """The pump's reading falls anywhere between the rig's two: a pump that keeps the rig's time never mismatches,
    however slow the link (a rehearsal at 300x makes milliseconds seconds). 1 µs of tolerance for the floats."""
    start = ClockReading(0.0, offset + where[0] * latency[0], latency[0])
    end_before = latency[0] + elapsed
    end = ClockReading(end_before, offset + end_before + where[1] * latency[1], end_before + latency[1])
    assert mismatch(start, end, PumpClock(tolerance_s=1e-6, rate_ppm=0.0)) is None


def test_a_pump_clock_that_went_back_is_a_restart_of_the_pump_not_a_clock_mode():
    start, end = ClockReading(5000.0, 4000.0, 5000.0), ClockReading(5600.0, 12.0, 5600.0)
    assert "went back from 4000.0 s to 12.0 s" in restarted(start, end, TOLERANCE)
    assert restarted(start, ClockReading(5600.0, 4599.0, 5600.0), TOLERANCE) is None
    assert restarted(start, ClockReading(5600.0, 3999.0, 5600.0), TOLERANCE) is None  # within the 2 s tolerance
