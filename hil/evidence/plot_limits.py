"""A requirement's limits on the evidence plots: every limit a line (or a marker) of one colour, labelled with the
requirement, the measurement and the limit's value as the requirement file states it."""

from collections.abc import Callable, Iterator
from typing import Any

from hil.specs.model import Bound, Requirement

COLOUR = "crimson"
STYLE: dict[str, Any] = {"color": COLOUR, "ls": "-.", "lw": 1.2}


def limits(requirement: Requirement, metrics: tuple[str, ...]) -> Iterator[tuple[Bound, float, str]]:
    """(bound, limit, label) for each limit of the requirement's bounds on these metrics, in the file's order."""
    for bound in requirement.acceptance:
        if bound.metric in metrics:
            for side, value in (("≥", bound.min), ("≤", bound.max)):
                if value is not None:
                    yield bound, value, f"{requirement.id} {bound.name} {side} {value:g} {bound.unit}"


def horizontal(
    ax,
    requirement: Requirement,
    metrics: tuple[str, ...],
    on_axis: Callable[[float], float] | None = None,
    axis_unit: str = "",
) -> None:
    """Each limit as a horizontal line; on_axis maps a limit into the axis's unit (shown after the label)."""
    for _, value, label in limits(requirement, metrics):
        y = on_axis(value) if on_axis else value
        ax.axhline(y, label=f"{label} ({y:+.3g} {axis_unit})" if on_axis else label, **STYLE)


def vertical(
    ax,
    requirement: Requirement,
    metrics: tuple[str, ...],
    on_axis: Callable[[float], float],
    axis_unit: str,
    labelled: bool = True,
) -> None:
    """Each limit as a vertical line at on_axis(limit), a time on the axis (shown after the label; unlabelled on
    the other axes of a shared time axis)."""
    for _, value, label in limits(requirement, metrics):
        x = on_axis(value)
        ax.axvline(x, label=f"{label} ({x:.3g} {axis_unit})" if labelled else None, **STYLE)


def legend(ax, **kwargs) -> None:
    """The axes' legend, when anything on it is labelled."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)
