"""Occlusion metrics from an episode's numbers (pure)."""

import numpy as np

from hil.analysis.strokes import NOISE_FLOOR_U, detect_strokes


def time_to_alarm_min(t_block_s: float, t_alarm_s: float | None) -> float:
    """Minutes from blocking to the alarm; infinite when no alarm came (a FAIL against any bound)."""
    return float("inf") if t_alarm_s is None else (t_alarm_s - t_block_s) / 60.0


def missed_U(pump_amount_U: float, arrived_U: float) -> float:
    """What the pump counted as delivered since the block but did not arrive."""
    return pump_amount_U - arrived_U


def balance_stroke_count(t_s: np.ndarray, delivered_U: np.ndarray, u_difference_U: float) -> int:
    """Strokes the balance saw where none should be: every run of rises above the noise floor counts, so that a
    pump's smallest step (a rise under the threshold strokes are counted by, hil.analysis.strokes) is not missed."""
    return int(detect_strokes(t_s, delivered_U, NOISE_FLOOR_U * u_difference_U).doses.size)
