"""The CGM trend (rate of change) as a CGM reports it with each sensor value, computed from the trace.

Definition (the project's statement of what a CGM publishes; the manufacturers do not publish their filters):

* the trend at a value is the slope, in mg/dL/min, of the least-squares line through the last four values
  received within 20 min of it (that value included); at 5-min sampling, the last 15 min, or 20 min when one
  value is missing. Dexcom: the rate-of-change arrows give "the direction and speed of glucose change over the
  last 15-20 minutes" in mg/dL per minute (G4 PLATINUM user's guide §8.2); Basal-IQ predicts 30 min ahead
  "linear from the last 4 CGM values" (Tandem's Basal-IQ user information;
  docs/references.md, "CGM trend and predictive suspension"), i.e. current value + trend × 30 min;
* reported to 0.1 mg/dL/min (the resolution of the Dexcom API's `trendRate` and of the CgmValue `trend` signal
  in fixtures/can/pump.dbc);
* with fewer than two values within 20 min no slope can be fitted: the trend is reported as 0.0 (flat), and a
  prediction from it is the current value (the project's choice; a Dexcom shows no arrow then).

Pure functions over a CGM trace: times in s, glucose in mg/dL, None for a missing (not received) value.
"""

WINDOW_S = 20 * 60.0  # the oldest value used is at most 20 min before the current one
MAX_VALUES = 4  # the current value and the three before it


def slope(t_s, glucose) -> float:
    """Least-squares slope in mg/dL/min of values at times t_s (at least two distinct times), unrounded: the normal
    equation's closed form, in plain floats (for four values numpy's polyfit costs ten times as much, on every CGM
    value of a closed loop)."""
    t = [(float(x) - float(t_s[-1])) / 60.0 for x in t_s]
    g = [float(x) for x in glucose]
    t_mean, g_mean = sum(t) / len(t), sum(g) / len(g)
    return sum((a - t_mean) * (b - g_mean) for a, b in zip(t, g, strict=True)) / sum((a - t_mean) ** 2 for a in t)


def report(slope_mg_dl_min: float) -> float:
    """A slope as the CGM reports it: to the nearest 0.1 mg/dL/min (no negative zero)."""
    return round(float(slope_mg_dl_min), 1) + 0.0  # the 0.1 mg/dL/min resolution, as a decimal


def trends(t_s, glucose) -> list[float | None]:
    """The reported trend at each value of the trace (None where the value is missing)."""
    out: list[float | None] = []
    seen: list[tuple[float, float]] = []
    for t, g in zip(t_s, glucose, strict=True):
        if g is None:
            out.append(None)
            continue
        seen = [(ts, gs) for ts, gs in seen[-(MAX_VALUES - 1) :] if t - ts <= WINDOW_S] + [(t, g)]
        out.append(report(slope(*zip(*seen, strict=True))) if len(seen) >= 2 else 0.0)
    return out


def trend(t_s, glucose) -> float:
    """The reported trend at the last value of a trace, which must be a received value (the feed's running use:
    only the last four received values can count)."""
    if glucose[-1] is None:
        raise ValueError("the trend is reported with a value: the last one is missing")
    received = [(t, g) for t, g in zip(t_s, glucose, strict=True) if g is not None][-MAX_VALUES:]
    # The last value's window as trends() builds it: times rise, so a value older than WINDOW_S for an earlier
    # value is older for the last one too.
    window = [(t, g) for t, g in received if received[-1][0] - t <= WINDOW_S]
    return report(slope(*zip(*window, strict=True))) if len(window) >= 2 else 0.0


def predicted(glucose: float, trend_mg_dl_min: float, horizon_min: float = 30.0) -> float:
    """Glucose horizon_min ahead, linear from the value and its trend (Basal-IQ's published method)."""
    return float(glucose + trend_mg_dl_min * horizon_min)
