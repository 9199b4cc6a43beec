"""Sensor noise for the scripted CGM scenarios (fixtures/scenarios/auto-*.yaml): a flat trace is a stuck sensor, and a
design that, rightly, doses nothing on one (oref0's "tooflat") would pass or fail on the trace, not on its safety.

The model (docs/references.md, "CGM sensor error model"):
* additive: simglucose's sensor error (the one the virtual patients already carry; Breton & Kovatchev, JDST 2008),
  an AR(1) process every 15 min, e_k = PACF (e_{k-1} + N(0, 1)), PACF 0.7, through a Johnson S_U transform
  ξ + λ sinh((e − γ) / δ), ξ −5.47, λ 15.9574, γ −0.5444, δ 1.6898, cubic-interpolated to the sensor interval in
  blocks of ten 15-min steps, as simglucose 0.2.11 does (sensor/noise_gen.py; this code gives the same numbers for
  the same seed): SD ≈ 11.8 mg/dL, correlated over about 30 min;
* multiplicative: the project's stated judgement, so that the error at high glucose is a current sensor's (about
  9 % MARD at 200-250 mg/dL) and not the additive part's alone (3.5-4.4 %): (1 + η), η an AR(1) every 5 min with
  coefficient 0.9 and SD 0.06.
The value sent is G (1 + η) + ε rounded to a whole mg/dL (a CGM reports whole numbers), within 39-400 mg/dL.
Deterministic: one seed gives one trace. Pure functions: glucose in mg/dL, times in min.
"""

import math

import numpy as np

PACF = 0.7
XI, LAMBDA, GAMMA, DELTA = -5.47, 15.9574, -0.5444, 1.6898
MODEL_STEP_MIN = 15.0
BLOCK = 10  # simglucose's PRECOMPUTE: 15-min steps interpolated at a time
MULT_COEFF = 0.9  # 5-min AR(1) coefficient of the multiplicative part (judgement)
MULT_SD = 0.06  # its stationary SD (judgement)
LOWEST, HIGHEST = 39.0, 400.0  # what a CGM reports (below: "LOW", above: "HIGH")


def additive(n: int, interval_min: float, seed: int) -> np.ndarray:
    """n values of simglucose's additive sensor error (mg/dL) at interval_min, exactly as its CGMNoise gives them."""
    rng = np.random.RandomState(seed)
    e = rng.randn()
    last = XI + LAMBDA * math.sinh((e - GAMMA) / DELTA)
    per_block = int(math.floor(BLOCK * MODEL_STEP_MIN / interval_min)) + 1
    t15 = np.arange(BLOCK + 1) * MODEL_STEP_MIN
    t = np.arange(per_block) * interval_min
    from scipy.interpolate import interp1d  # here, not at the top: most of a `hil` command's start-up

    out: list[float] = []
    while len(out) < n:
        steps = [last]
        for _ in range(BLOCK):
            e = PACF * (e + rng.randn())
            steps.append(XI + LAMBDA * math.sinh((e - GAMMA) / DELTA))
        last = steps[-1]
        out.extend(interp1d(t15, np.asarray(steps), kind="cubic")(t)[1:])
    return np.asarray(out[:n])


def multiplicative(n: int, interval_min: float, seed: int) -> np.ndarray:
    """n values of the multiplicative error η (a share), an AR(1) with MULT_COEFF per 5 min and SD MULT_SD."""
    rng = np.random.default_rng([seed, 1])
    phi = MULT_COEFF ** (interval_min / 5.0)
    eta = np.empty(n)
    eta[0] = rng.normal(0.0, MULT_SD) if n else 0.0
    for k in range(1, n):
        eta[k] = phi * eta[k - 1] + rng.normal(0.0, MULT_SD * math.sqrt(1 - phi * phi))
    return eta


def noisy(true_values: list, interval_min: float, seed: int) -> list:
    """The values a sensor sends for the noise-free glucose (None stays None: nothing sent)."""
    n = len(true_values)
    eps, eta = additive(n, interval_min, seed), multiplicative(n, interval_min, seed)
    return [
        None if g is None else float(min(HIGHEST, max(LOWEST, round(g * (1 + m) + a))))
        for g, a, m in zip(true_values, eps, eta, strict=True)
    ]
