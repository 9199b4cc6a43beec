"""A recording read on its nominal sample grid, timed by the times its samples were really taken.

The trumpet and window analyses difference a cumulative series at window ends (hil.analysis.trumpet). Taken as
uniform, a recording with one sample missing shifts every later window end by one interval, and a window's
delivery is then wrong by the flow over that interval. So a recording is first read at its grid times
start + k·interval by linear interpolation of the cumulative series between the real samples (np.interp):
exact for constant flow, and with the series' own samples wherever they are on time.

MAX_GAP_INTERVALS bounds what interpolation may bridge. Across one missing sample (a gap of two intervals) a
window end read from the chord is off by at most the delivery of two intervals, the order of the one-interval
sampling resolution every window end has anyway; the extra half interval is a real clock's lateness (a sample
late by up to half an interval is still on time). A longer gap could put a window end several intervals' delivery
off, which no uncertainty budget covers: the recording is refused (RecordingGap, a rig fault).
"""

import numpy as np

from hil.errors import RecordingGap

MAX_GAP_INTERVALS = 2.5


def gaps(t_s: np.ndarray, interval_s: float) -> np.ndarray:
    """(start time, length) of every gap between consecutive samples longer than MAX_GAP_INTERVALS intervals."""
    t = np.asarray(t_s, dtype=float)
    steps = np.diff(t)
    long = np.flatnonzero(steps > MAX_GAP_INTERVALS * interval_s)
    return np.column_stack([t[long], steps[long]])


def on_grid(t_s: np.ndarray, cumulative: np.ndarray, interval_s: float, start_s: float) -> np.ndarray:
    """The cumulative series at start_s + k·interval_s, k = 0 … while within the recording; RecordingGap when a
    gap in the part used is longer than MAX_GAP_INTERVALS intervals."""
    t = np.asarray(t_s, dtype=float)
    if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)):
        raise RecordingGap("the recording's sample times are not finite and increasing: its windows cannot be timed")
    if not t[0] <= start_s <= t[-1]:
        raise ValueError(f"grid start {start_s:g} s lies outside the recording ({t[0]:g}-{t[-1]:g} s)")
    first = max(int(np.searchsorted(t, start_s, side="right")) - 1, 0)
    found = gaps(t[first:], interval_s)
    if found.size:
        listed = ", ".join(f"{length:g} s at {start:g} s" for start, length in found[:5])
        raise RecordingGap(
            f"{len(found)} gap(s) longer than {MAX_GAP_INTERVALS:g} sample intervals "
            f"({MAX_GAP_INTERVALS * interval_s:g} s) in the recording: {listed}"
        )
    count = int(np.floor((t[-1] - start_s) / interval_s + 1e-9)) + 1
    return np.interp(start_s + interval_s * np.arange(count), t, np.asarray(cumulative, dtype=float))
