"""The evidence plots an auditor looks at. Each returns a matplotlib Figure (Agg backend, no display)."""

import functools
import io
from pathlib import Path

import numpy as np

from hil.drivers.contracts import Alarm, PumpState, Seen
from hil.evidence import plot_limits
from hil.specs.model import Requirement

MARGIN_IN = 1.0  # drawn around the figure, for what reaches beyond it (a label's descent, a legend set outside)


@functools.cache
def _pyplot():
    """matplotlib's pyplot on the Agg backend (no display), loaded with the first figure: a run without figures
    (`hil verify --no-figures`) never pays its import, 0.4 s of every campaign's start."""
    import matplotlib

    matplotlib.use("Agg")
    # Titles at the top of their axes: no plot puts tick labels above an axes, and matplotlib's search for a title
    # position clear of them measures every tick label of every axes on each draw (a sixth of the plotting time).
    matplotlib.rcParams["axes.titley"] = 1.0
    import matplotlib.pyplot

    return matplotlib.pyplot


def close(figure) -> None:
    """Release a drawn figure (pyplot keeps every figure it made until it is closed)."""
    _pyplot().close(figure)


def save_png(figure, path: Path, dpi: float = 110, pad_inches: float = 0.1) -> None:
    """The figure as a PNG cropped to what it draws with a pad around it, as savefig(bbox_inches="tight") crops
    it, from one rendering: drawn with a margin around it, cropped where the pixels differ from the background
    (savefig lays the figure out once more to measure every artist's extent, then draws it). A drawing that
    reaches the margin's edge is saved by savefig itself."""
    import matplotlib.image
    from matplotlib.transforms import Bbox

    width, height = figure.get_size_inches()
    raw = io.BytesIO()
    box = Bbox.from_extents(-MARGIN_IN, -MARGIN_IN, width + MARGIN_IN, height + MARGIN_IN)
    figure.savefig(raw, format="rgba", dpi=dpi, bbox_inches=box, pad_inches=0)
    columns, lines = int((width + 2 * MARGIN_IN) * dpi), int((height + 2 * MARGIN_IN) * dpi)  # as Agg truncates
    if raw.getbuffer().nbytes != 4 * columns * lines:  # a size Agg rounded otherwise: never guessed at
        figure.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=pad_inches)
        return
    pixels = np.frombuffer(raw.getbuffer(), np.uint8).reshape(lines, columns, 4)
    rgba = pixels.view(np.uint32)[..., 0]  # a pixel as one number: one comparison each
    ink = rgba != rgba[0, 0]
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0 or rows[0] == 0 or cols[0] == 0 or rows[-1] == lines - 1 or cols[-1] == columns - 1:
        figure.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=pad_inches)
        return
    pad = round(pad_inches * dpi)
    top, left = max(0, rows[0] - pad), max(0, cols[0] - pad)
    matplotlib.image.imsave(path, pixels[top : rows[-1] + 1 + pad, left : cols[-1] + 1 + pad], format="png", dpi=dpi)


def trumpet_figure(windows_min, ep_max, ep_min, overall_pct: float, title: str, requirement: Requirement):
    """Ep(max) and Ep(min) per observation window and the overall error, with the requirement's limits: on the
    overall error as lines, on Ep at a window as a marker and a short line at that window."""
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    ax.plot(windows_min, ep_max, "o-", color="tab:red", label="Ep(max)")
    ax.plot(windows_min, ep_min, "o-", color="tab:blue", label="Ep(min)")
    ax.axhline(overall_pct, color="k", ls="--", lw=1, label=f"overall error A = {overall_pct:.2f} %")
    plot_limits.horizontal(ax, requirement, ("overall_error",))
    for bound, value, label in plot_limits.limits(requirement, ("trumpet_ep_max", "trumpet_ep_min")):
        window = bound.params["window_min"]
        marker = "v" if value == bound.max else "^"
        ax.plot(
            [window / 1.3, window, window * 1.3],
            [value] * 3,
            marker=marker,
            markevery=[1],
            ms=9,
            label=label,
            **plot_limits.STYLE | {"ls": "-", "lw": 2},
        )
    ax.set_xscale("log")
    ax.set_xlabel("observation window (min)")
    ax.set_ylabel("flow error (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


WINDOW_METRICS = ("window_delivered_min", "window_delivered_max")


def cumulative_figure(
    t_s,
    delivered_U,
    rate_U_per_h: float,
    stabilisation_s: float,
    analysis_s: float,
    title: str,
    requirement: Requirement,
):
    """Delivery against the programmed rate, the overall error's limits at the analysis period's end; below, when
    the requirement bounds the delivery in windows, each non-overlapping window's delivery (from the stabilisation's
    end) as its error from the programmed amount, with the limits of its window length."""
    t = np.asarray(t_s, dtype=float)
    t_h = (t - t[0]) / 3600.0
    windows_h = sorted({b.params["window_h"] for b in requirement.acceptance if b.metric in WINDOW_METRICS})
    fig, axes = _pyplot().subplots(
        2 if windows_h else 1, 1, figsize=(7, 7.5 if windows_h else 4.5), sharex=True, squeeze=False
    )
    ax = axes[0, 0]
    ax.plot(t_h, delivered_U, lw=1, label="delivered (gravimetric)")
    ax.plot(t_h, rate_U_per_h * t_h, "k--", lw=1, label=f"expected at {rate_U_per_h:g} U/h")
    for row in axes[:, 0]:
        if stabilisation_s:
            row.axvspan(
                0, stabilisation_s / 3600.0, color="0.9", label="stabilisation (excluded)" if row is ax else None
            )
        row.grid(True, alpha=0.3)
    start_s = t[0] + stabilisation_s
    for _, value, label in plot_limits.limits(requirement, ("overall_error",)):
        expected = float(np.interp(start_s, t, delivered_U)) + rate_U_per_h * analysis_s / 3600.0 * (1 + value / 100)
        ax.plot(
            [(start_s + analysis_s - t[0]) / 3600.0],
            [expected],
            "_",
            ms=16,
            mew=2,
            color=plot_limits.COLOUR,
            label=label,
        )
    ax.set_ylabel("cumulative delivery (U)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    if windows_h:
        _window_errors(axes[1, 0], t, delivered_U, rate_U_per_h, start_s, windows_h, requirement)
    axes[-1, 0].set_xlabel("time (h)")
    return fig


def _window_errors(
    ax, t, delivered_U, rate_U_per_h: float, start_s: float, windows_h: list[float], requirement: Requirement
) -> None:
    """Each window's error (%) at its end, and each window limit at the error it allows, in its window's colour."""
    for window_h, colour in zip(windows_h, ("tab:blue", "darkorange", "purple", "brown", "teal"), strict=False):
        window_s, expected = window_h * 3600.0, rate_U_per_h * window_h
        starts = start_s + window_s * np.arange(int((t[-1] - start_s + 1e-6) // window_s))
        totals = np.interp(starts + window_s, t, delivered_U) - np.interp(starts, t, delivered_U)
        ax.plot(
            (starts + window_s - t[0]) / 3600.0,
            100.0 * (totals - expected) / expected,
            "o",
            color=colour,
            ms=4,
            label=f"{window_h:g}-h windows",
        )
        for bound, value, label in plot_limits.limits(requirement, WINDOW_METRICS):
            if bound.params["window_h"] == window_h:
                error = 100.0 * (value - expected) / expected
                ax.axhline(error, label=f"{label} ({error:+.3g} %)", **plot_limits.STYLE | {"color": colour})
    ax.set_ylabel("window delivery error (%)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: the limits span the width


def bolus_deviation_figure(delivered_U, programmed_U: float, band_pct: float, title: str, requirement: Requirement):
    """Each bolus's deviation, the mean deviation, the case's band and the requirement's limits: on the mean, and on
    a single bolus (a size in U, drawn at its deviation)."""
    deviations = 100.0 * (np.asarray(delivered_U) - programmed_U) / programmed_U
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    ax.bar(
        np.arange(1, deviations.size + 1),
        deviations,
        color=np.where(np.abs(deviations) <= band_pct, "tab:green", "tab:red"),
    )
    ax.axhline(float(np.mean(deviations)), color="k", lw=1.2, label=f"mean deviation {np.mean(deviations):+.2f} %")
    share = [label for _, _, label in plot_limits.limits(requirement, ("bolus_share_within",))]
    for sign in (-1, 1):
        ax.axhline(
            sign * band_pct,
            color="k",
            ls="--",
            lw=1,
            label=f"±{band_pct:g} % band ({', '.join(share) or 'share reported'})" if sign > 0 else None,
        )
    plot_limits.horizontal(ax, requirement, ("bolus_mean_error",))
    plot_limits.horizontal(
        ax, requirement, ("bolus_min", "bolus_max"), lambda v: 100.0 * (v - programmed_U) / programmed_U, "%"
    )
    ax.set_xlabel("bolus number")
    ax.set_ylabel("deviation from programmed size (%)")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def bolus_timing_figure(runs, nominal_s: float, amount_U: float, title: str, requirement: Requirement):
    """Each bolus's delivery curve against the stated speed, with the whole-bolus durations the requirement's limits
    on the 5 %-95 % delivery time allow."""
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    for i, (t, v) in enumerate(runs, 1):
        ax.plot(t, v, lw=1, label=f"bolus {i}")
    ax.plot([0, nominal_s], [0, amount_U], "k--", lw=1, label="stated speed")
    ax.axvline(nominal_s, color="0.5", ls=":", lw=1)
    plot_limits.vertical(ax, requirement, ("bolus_duration_error",), lambda v: nominal_s * (1 + v / 100.0), "s")
    ax.set_xlabel("time since command (s)")
    ax.set_ylabel("delivered (U)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def occlusion_figure(
    t_s,
    delivered_U,
    pressure_kPa,
    marks: dict,
    alarms: list[Seen[Alarm]],
    title: str,
    requirement: Requirement,
    alarm_from_s: float | None = None,
):
    """Line pressure and cumulative delivery against time, with the block, alarm and release marked, and the
    requirement's limits: the latest alarm (from alarm_from_s, the block or the bolus), the pressure at the alarm,
    the volume released after the outlet opened (above the delivery at the opening)."""
    t0 = t_s[0]
    t_min = (np.asarray(t_s) - t0) / 60.0
    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(t_min, pressure_kPa, lw=1, color="tab:purple")
    top.set_ylabel("line pressure (kPa)")
    bottom.plot(t_min, delivered_U, lw=1)
    bottom.set_ylabel("delivered at the balance (U)")
    bottom.set_xlabel("time (min)")
    for name, t in marks.items():
        for ax in (top, bottom):
            ax.axvline((t - t0) / 60.0, color="0.4", ls="--", lw=1)
        top.annotate(
            name, ((t - t0) / 60.0, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top", fontsize=8
        )
    for alarm in alarms:
        for ax in (top, bottom):
            ax.axvline((alarm.seen_s - t0) / 60.0, color="tab:red", lw=1.5)
        top.annotate(
            f"ALARM {alarm.event.priority}",
            ((alarm.seen_s - t0) / 60.0, 0.5),
            xycoords=("data", "axes fraction"),
            rotation=90,
            color="tab:red",
            fontsize=8,
        )
    if alarm_from_s is not None:
        for ax in (top, bottom):
            plot_limits.vertical(
                ax, requirement, ("time_to_alarm",), lambda v: (alarm_from_s - t0) / 60.0 + v, "min", ax is top
            )
    plot_limits.horizontal(top, requirement, ("pressure_at_alarm",))
    if "open" in marks:
        opened = (marks["open"] - t0) / 60.0
        base = float(np.interp(opened, t_min, delivered_U))
        for _, value, label in plot_limits.limits(requirement, ("released_volume",)):
            bottom.plot(
                [opened, t_min[-1]],
                [base + value] * 2,
                label=f"{label} (above the delivery at the opening)",
                **plot_limits.STYLE,
            )
    top.set_title(title)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
        plot_limits.legend(ax, fontsize=7)
    return fig


def suspend_figure(
    value_t_s,
    values,
    poll_t_s,
    states,
    delivered_U,
    low_limit: float,
    rate_U_per_h: float,
    title: str,
    requirement: Requirement,
):
    """CGM trace with the low limit, the pump's state, and what reached the balance, with the requirement's limits
    on the first suspension: its length (from its start), the delivery while suspended (above the delivery at its
    start), the hour after the resume (▼ ▲ at its end, from the delivery at the resume), the resume after the
    CGM's last value."""
    t0 = value_t_s[0]
    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(8, 6.5), sharex=True)
    glucose = np.array([np.nan if v is None else v for v in values], dtype=float)
    top.plot((np.asarray(value_t_s) - t0) / 60.0, glucose, "o-", ms=3, label="CGM")
    top.axhline(low_limit, color="tab:red", ls="--", lw=1, label=f"low limit {low_limit:g}")
    top.axhline(low_limit + 70, color="0.6", ls=":", lw=1, label="limit + 70")
    poll_min = (np.asarray(poll_t_s) - t0) / 60.0
    suspended = np.array([s is PumpState.AUTO_SUSPENDED for s in states])
    for ax in (top, bottom):
        ax.fill_between(
            poll_min,
            0,
            1,
            where=suspended,
            transform=ax.get_xaxis_transform(),
            color="tab:orange",
            alpha=0.2,
            label="suspended" if ax is top else None,
        )
        ax.grid(True, alpha=0.3)
    bottom.plot(poll_min, delivered_U, lw=1)
    last_value = max((t for t, v in zip(value_t_s, values, strict=True) if v is not None), default=None)
    if last_value is not None:
        plot_limits.vertical(
            bottom, requirement, ("cgm_loss_resume_after",), lambda v: (last_value - t0) / 60.0 + v, "min"
        )
    if suspended.any():
        start = int(np.argmax(suspended))
        end = start + int(np.argmin(suspended[start:])) if not suspended[start:].all() else None
        _suspension_limits(bottom, requirement, poll_min, delivered_U, start, end, rate_U_per_h)
    top.set_ylabel("glucose (mg/dL)")
    top.legend(fontsize=7)
    bottom.set_ylabel("delivered at the balance (U)")
    bottom.set_xlabel("time (min)")
    plot_limits.legend(bottom, fontsize=7)
    top.set_title(title)
    return fig


def _suspension_limits(ax, requirement: Requirement, poll_min, delivered_U, start: int, end: int | None, rate: float):
    """The limits on one suspension from poll start to poll end (None: still suspended at the recording's end)."""
    plot_limits.vertical(ax, requirement, ("suspension_duration",), lambda v: poll_min[start] + v, "min")
    span = [poll_min[start], poll_min[-1] if end is None else poll_min[end]]
    for _, value, label in plot_limits.limits(requirement, ("delivered_while_suspended",)):
        ax.plot(
            span,
            [delivered_U[start] + value] * 2,
            label=f"{label} (above the delivery at its start)",
            **plot_limits.STYLE,
        )
    if end is None:
        return
    for bound, value, label in plot_limits.limits(requirement, ("basal_error_after_resume",)):
        ax.plot(
            [poll_min[end] + 60.0],
            [delivered_U[end] + rate * (1 + value / 100.0)],
            "v" if value == bound.max else "^",
            color=plot_limits.COLOUR,
            label=f"{label} (an hour after)",
        )


def virtual_nights_figure(patient: str, nights: dict, low_limit: float, hypo_mg_dl: float):
    """One patient's nights, one row each: true glucose with the suspend feature off and on, the CGM values the
    pump received (on), and the pump's automatic suspensions shaded. nights: name -> (off, on) LoopRecords."""
    fig, axes = _pyplot().subplots(len(nights), 1, figsize=(9, 2.6 * len(nights)), sharex=True, squeeze=False)
    for ax, (name, (off, on)) in zip(axes[:, 0], nights.items(), strict=True):
        hours_off, hours_on = np.asarray(off.minute) / 60.0, np.asarray(on.minute) / 60.0
        ax.plot(hours_off, off.glucose, color="0.5", lw=1.2, label="glucose, suspend off")
        ax.plot(hours_on, on.glucose, color="tab:blue", lw=1.4, label="glucose, suspend on")
        ax.plot(np.asarray(on.cgm_minute) / 60.0, on.cgm, ".", color="tab:blue", ms=3, alpha=0.6, label="CGM sent (on)")
        suspended = np.array([s is PumpState.AUTO_SUSPENDED for s in on.state])
        ax.fill_between(
            hours_on,
            0,
            1,
            where=suspended,
            transform=ax.get_xaxis_transform(),
            color="tab:orange",
            alpha=0.25,
            label="suspended (on)",
        )
        ax.axhline(hypo_mg_dl, color="tab:red", ls="--", lw=1, label=f"{hypo_mg_dl:g} mg/dL")
        ax.axhline(low_limit, color="tab:red", ls=":", lw=1, label=f"low limit {low_limit:g}")
        ax.set_ylabel("mg/dL")
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=3, loc="upper right")
    axes[-1, 0].set_xlabel("hours from bedtime")
    fig.suptitle(f"{patient}: glucose and suspensions, closed through the rig")
    fig.tight_layout()
    return fig


def virtual_days_figure(patient: str, days: dict, target_range: tuple[float, float]):
    """One patient's days, two rows each: true glucose in open loop and in auto mode with the target range and the
    CGM values the pump received in auto mode; below, the insulin each arm received per hour (weighed), with the
    user's boluses marked. days: name -> (open, auto) LoopRecords."""
    fig, axes = _pyplot().subplots(
        2 * len(days),
        1,
        figsize=(9, 4.4 * len(days)),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [2, 1] * len(days)},
    )
    for k, (name, (open_loop, auto)) in enumerate(days.items()):
        top, bottom = axes[2 * k, 0], axes[2 * k + 1, 0]
        top.axhspan(
            *target_range, color="tab:green", alpha=0.08, label=f"{target_range[0]:g}-{target_range[1]:g} mg/dL"
        )
        top.plot(
            np.asarray(open_loop.minute) / 60.0, open_loop.glucose, color="0.5", lw=1.2, label="glucose, open loop"
        )
        top.plot(np.asarray(auto.minute) / 60.0, auto.glucose, color="tab:blue", lw=1.4, label="glucose, auto mode")
        top.plot(
            np.asarray(auto.cgm_minute) / 60.0,
            auto.cgm,
            ".",
            color="tab:blue",
            ms=2.5,
            alpha=0.5,
            label="CGM sent (auto)",
        )
        top.set_ylabel("mg/dL")
        top.set_title(name, fontsize=9, loc="left")
        top.grid(True, alpha=0.3)
        for record, color, label in ((open_loop, "0.5", "open loop"), (auto, "tab:blue", "auto mode")):
            per_hour = np.add.reduceat(np.asarray(record.insulin_U), np.arange(0, len(record.insulin_U), 60))
            bottom.step(
                np.arange(len(per_hour)) + 1.0,
                per_hour,
                where="pre",
                color=color,
                lw=1.2,
                label=f"insulin received, {label}",
            )
            for minute, amount in record.user_boluses:
                bottom.annotate(
                    f"{amount:.1f}",
                    (minute / 60.0, 0),
                    fontsize=6,
                    color=color,
                    rotation=90,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
        bottom.set_ylabel("U per hour")
        bottom.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=2, loc="upper right")
    axes[1, 0].legend(fontsize=7, ncol=2, loc="upper right")
    axes[-1, 0].set_xlabel("hours from the day's start (user's boluses marked in U)")
    fig.suptitle(f"{patient}: glucose and insulin, open loop and auto mode, closed through the rig")
    fig.tight_layout()
    return fig


def site_trial_figure(
    t_s, site_U, lost_U, pressure_kPa, fault_s: float, alarms: list[Seen[Alarm]], title: str, requirement: Requirement
):
    """One site-fault trial: the line pressure the pump reports, and what reached the site and what was lost
    (each balance, from the first poll), with the fault and the alarms marked, and the requirement's limit on the
    escalation (from the first alarm)."""
    t0 = t_s[0]
    hours = (np.asarray(t_s) - t0) / 3600.0
    fig, (top, bottom) = _pyplot().subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(hours, pressure_kPa, lw=1, color="tab:purple")
    top.set_ylabel("line pressure (kPa)")
    bottom.plot(hours, site_U, lw=1.2, label="reached the site")
    if np.isfinite(np.asarray(lost_U, dtype=float)).any():
        bottom.plot(hours, lost_U, lw=1.2, color="tab:red", label="lost (second balance)")
    bottom.set_ylabel("insulin since the set was primed (U)")
    bottom.set_xlabel("time (h)")
    for ax in (top, bottom):
        ax.axvline((fault_s - t0) / 3600.0, color="k", ls="--", lw=1, label="fault" if ax is bottom else None)
        for alarm in alarms:
            ax.axvline(
                (alarm.seen_s - t0) / 3600.0,
                color="tab:orange",
                lw=1.5,
                label=f"{alarm.event.kind} {alarm.event.priority}" if ax is bottom else None,
            )
        ax.grid(True, alpha=0.3)
    if alarms:
        first_h = (alarms[0].seen_s - t0) / 3600.0
        plot_limits.vertical(bottom, requirement, ("escalation_delay",), lambda v: first_h + v / 60.0, "h")
    bottom.legend(fontsize=8)
    top.set_title(title)
    return fig


def detection_delays_figure(delays_min, within_min: float, title: str):
    """Each trial's time from the fault to the site alarm; missed trials drawn at the limit in red."""
    fig, ax = _pyplot().subplots(figsize=(8, 3.5))
    delays = np.asarray(delays_min, dtype=float)
    trials = np.arange(1, delays.size + 1)
    hit = np.isfinite(delays)
    ax.plot(trials[hit], delays[hit], "o", label="alarmed")
    ax.plot(trials[~hit], np.full((~hit).sum(), within_min), "x", color="tab:red", ms=9, label="no alarm in time")
    ax.axhline(within_min, color="tab:red", ls="--", lw=1, label=f"{within_min:g} min")
    ax.set_xlabel("trial")
    ax.set_ylabel("fault to alarm (min)")
    ax.set_ylim(0, within_min * 1.1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def false_alarm_figure(days: float, alarm_days: list, title: str):
    """The nominal days and when a site alarm came."""
    fig, ax = _pyplot().subplots(figsize=(8, 2.5))
    ax.hlines(0, 0, days, lw=6, color="tab:green", alpha=0.4, label="nominal delivery")
    ax.plot(alarm_days, np.zeros(len(alarm_days)), "v", color="tab:red", ms=10, label="site alarm")
    ax.set_xlim(0, days)
    ax.set_yticks([])
    ax.set_xlabel("day")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title)
    return fig


def auto_mode_figure(
    value_t_s, values, predicted, decisions, poll_t_s, weighed_rate, iob_U, marks, title: str, requirement: Requirement
):
    """Auto mode over a scenario: CGM values and the harness's 30-min prediction; the rate the pump commanded
    (its AUTO_BASAL decisions, corrections marked) against the rate weighed; the insulin on board counted from the
    weighed insulin; the requirement's limits on rates and on the insulin on board. decisions: (rig time, rate U/h)
    steps; marks: name → rig times of corrections, fallbacks."""
    t0 = value_t_s[0]
    fig, (top, middle, bottom) = _pyplot().subplots(3, 1, figsize=(8, 8), sharex=True)
    minutes = (np.asarray(value_t_s) - t0) / 60.0
    top.plot(minutes, [np.nan if v is None else v for v in values], "o-", ms=3, label="CGM sent")
    top.plot(
        minutes,
        [np.nan if p is None else p for p in predicted],
        ".",
        color="tab:purple",
        ms=4,
        label="stated prediction (harness)",
    )
    top.set_ylabel("glucose (mg/dL)")
    if decisions:
        t, rate = zip(*decisions, strict=True)
        middle.step((np.asarray(t) - t0) / 60.0, rate, where="post", label="commanded (AUTO_BASAL)")
    middle.plot((np.asarray(poll_t_s) - t0) / 60.0, weighed_rate, lw=1, alpha=0.8, label="weighed (10-min mean)")
    middle.set_ylabel("basal (U/h)")
    bottom.plot((np.asarray(poll_t_s) - t0) / 60.0, iob_U, lw=1.2, color="tab:green")
    bottom.set_ylabel("automatic insulin on board (U)")
    bottom.set_xlabel("time (min)")
    for name, times in marks.items():
        for k, t in enumerate(times):
            for ax in (top, middle, bottom):
                ax.axvline(
                    (t - t0) / 60.0,
                    ls=":",
                    lw=1,
                    color="tab:red" if "correction" in name else "0.4",
                    label=name if ax is middle and k == 0 else None,
                )
    for ax in (top, middle, bottom):
        ax.grid(True, alpha=0.3)
    plot_limits.horizontal(middle, requirement, RATE_METRICS)
    plot_limits.horizontal(bottom, requirement, ("auto_iob_max",))
    top.legend(fontsize=8)
    middle.legend(fontsize=7)
    plot_limits.legend(bottom, fontsize=7)
    top.set_title(title)
    return fig


RATE_METRICS = ("auto_rate_max", "weighed_rate_after_fallback")


def dose_limit_figure(labels: list[str], weighed_U: list[float], U: list[float], bound_U: float, title: str):
    """What was weighed after each command above a limit (and after the closing dose at it), with its expanded
    uncertainty, against the requirement's bound."""
    fig, ax = _pyplot().subplots(figsize=(8, 3.5))
    positions = np.arange(len(labels))
    ax.bar(positions, weighed_U, yerr=U, capsize=4, color="tab:blue", alpha=0.7)
    ax.axhline(bound_U, color="tab:red", ls="--", lw=1, label=f"bound {bound_U:g} U")
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set_ylabel("weighed (U)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def weighed_timeline_figure(t_s, weighed_U, reference_U, reference_label: str, marks: dict[str, float], title: str):
    """What the balance weighed from the first sample on, against a reference (the pump's record, what was
    commanded), with the rig times of the test's events (an alarm seen, a fault injected)."""
    t = np.asarray(t_s, dtype=float)
    t_h = (t - t[0]) / 3600.0
    fig, ax = _pyplot().subplots(figsize=(7, 4.5))
    ax.plot(t_h, weighed_U, lw=1, label="delivered (gravimetric)")
    ax.plot(t_h, reference_U, "k--", lw=1, label=reference_label)
    for (label, t_mark), colour in zip(marks.items(), ("tab:orange", "tab:red"), strict=False):
        ax.axvline((t_mark - t[0]) / 3600.0, color=colour, ls=":", lw=1.5, label=label)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("cumulative delivery (U)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig


def calculator_advice_figure(
    labels: list[str], advised_U: list[float], equations_U: list[float], band_U: tuple[float, float], title: str
):
    """Each advice the calculator gave (a bar; none where it refused) against its label's equations' unrounded dose
    (a marker), with the band the pump's claimed rounding allows around it."""
    fig, ax = _pyplot().subplots(figsize=(8, 3.5))
    positions = np.arange(len(labels))
    ax.bar(positions, advised_U, color="tab:blue", alpha=0.7, label="advised")
    equations = np.asarray(equations_U, dtype=float)
    ax.errorbar(
        positions,
        equations,
        yerr=[-band_U[0] * np.ones(len(labels)), band_U[1] * np.ones(len(labels))],
        fmt="kD",
        capsize=6,
        label=f"the equations' dose, and the claimed rounding ({band_U[0]:g} to {band_U[1]:g} U)",
    )
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set_ylabel("dose (U)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig
