"""Trumpet and fixed-window analysis of a 72-hour, 1 Hz recording whose samples come up to 0.3 s late (a real
clock): the vectorised hil.analysis (the series read on its nominal grid by hil.analysis.sampling, then the
trumpet and windows) against a naive loop implementation of the same recipe on the same grid (per-sample flows,
a running sum per window, a Python loop over every window position), with the results checked equal.

    .venv/bin/python benchmarks/bench_analysis.py
"""

import json
import time
from pathlib import Path

import numpy as np

from hil.analysis import sampling, trumpet, windows

RATE_U_PER_S = 1.0 / 3600.0
WINDOWS_S = [w * 60.0 for w in (2, 5, 11, 19, 31, 60, 150, 330, 570, 930)]
FIXED_WINDOWS_S = [3600.0, 6 * 3600.0, 12 * 3600.0]


def recording(hours=72, interval=1.0, seed=1):
    """Sample times (late by 0-0.3 intervals) and the cumulative delivery at them."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 / interval)
    flows = RATE_U_PER_S * interval * (1 + 0.05 * rng.standard_normal(n))
    t = interval * np.arange(n + 1) + 0.3 * interval * rng.random(n + 1)
    t[0] = 0.0
    return t, np.concatenate([[0.0], np.cumsum(flows)])


def naive(volume, interval):
    flows = [volume[i] - volume[i - 1] for i in range(1, len(volume))]
    result = []
    for window in WINDOWS_S:
        m = int(round(window / interval))
        running = sum(flows[:m])
        best, worst = running, running
        for j in range(m, len(flows)):
            running += flows[j] - flows[j - m]
            best, worst = max(best, running), min(worst, running)
        scale = 100.0 / (RATE_U_PER_S * window)
        result.append((best * scale - 100.0, worst * scale - 100.0))
    totals = []
    for window in FIXED_WINDOWS_S:
        m = int(round(window / interval))
        totals.append([sum(flows[k : k + m]) for k in range(0, len(flows) - m + 1, m)])
    return result, totals


def vectorised(t, volume, interval):
    volume = sampling.on_grid(t, volume, interval, t[0])
    points = trumpet.trumpet(volume, interval, WINDOWS_S, RATE_U_PER_S)
    totals = [windows.window_totals(volume, interval, w) for w in FIXED_WINDOWS_S]
    return [(p.ep_max_pct, p.ep_min_pct) for p in points], totals


def timed(function, *args, repeats=3):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    t, volume = recording()
    grid_s, grid = timed(sampling.on_grid, t, volume, 1.0, t[0], repeats=5)
    fast_s, (fast_trumpet, fast_totals) = timed(vectorised, t, volume, 1.0, repeats=5)
    slow_s, (slow_trumpet, slow_totals) = timed(naive, grid, 1.0, repeats=1)
    np.testing.assert_allclose(fast_trumpet, slow_trumpet, rtol=1e-6, atol=1e-6)
    for fast, slow in zip(fast_totals, slow_totals):
        np.testing.assert_allclose(fast, slow, rtol=1e-9)
    print(f"72 h at 1 Hz ({volume.size:,} samples), {len(WINDOWS_S)} trumpet windows + {len(FIXED_WINDOWS_S)} fixed: "
          f"vectorised {fast_s * 1e3:.1f} ms (of which reading it on its grid {grid_s * 1e3:.1f} ms), naive loop {slow_s:.2f} s ({slow_s / fast_s:,.0f}x); results equal")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps({"samples": int(volume.size), "vectorised_s": fast_s, "on_grid_s": grid_s,
                                                           "naive_s": slow_s}))


if __name__ == "__main__":
    main()
