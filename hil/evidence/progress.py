"""A campaign's progress in rig time, for the operator of a run of days: the test under way and its requirement,
its rig time so far and as expected, the campaign's, the ETA on the wall clock, and the latest raw reading. The
expected rig times come from earlier runs' records (hil.evidence.run.rig_times); a test never timed counts with
what it has taken so far, and the figures it touches are marked "≥". When no test left was ever timed (a first run)
there is nothing to estimate from: the line says so instead of an expected total, a share and an ETA."""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

SEPARATOR = " · "  # between the line's parts: a display short of room leaves out whole parts from the end
NO_ESTIMATE = "ETA unknown (tests left never timed)"


@dataclass
class Progress:
    selected: list[str]  # test node ids, in run order
    expected_s: dict[str, float]  # node id → rig seconds, where an earlier run timed it
    wall0: float = field(default_factory=time.monotonic)
    done_s: float = 0.0  # rig seconds of the finished tests
    finished: int = 0
    current: str | None = None
    label: str = ""  # the current test's requirement id(s)
    started_s: float = 0.0  # rig time the current test started

    def begin(self, node: str, label: str, rig_now: float) -> None:
        self.current, self.label, self.started_s = node, label, rig_now

    def end(self, rig_now: float) -> None:
        if self.current is not None:
            self.done_s += max(0.0, rig_now - self.started_s)
            self.finished += 1
            self.current = None

    def line(self, rig_now: float, latest: str | None = None, wall_now: float | None = None) -> str:
        """One line, its parts SEPARATOR apart: [k/n] requirement · test elapsed of expected · campaign elapsed of
        expected (%) · ETA · latest reading."""
        wall_now = time.monotonic() if wall_now is None else wall_now
        elapsed = max(0.0, rig_now - self.started_s) if self.current else 0.0
        todo = self.selected[self.finished + (1 if self.current else 0) :]
        left = ([self.current] if self.current else []) + todo
        timed = [node for node in left if node in self.expected_s]
        campaign_done = self.done_s + elapsed
        parts = []
        if self.current:
            expected = self.expected_s.get(self.current)
            never = " (never timed)" if timed else ""  # else NO_ESTIMATE says it of every test left
            parts.append(f"{self.label} {_h(elapsed)}" + (f" of {_h(expected)}" if expected else never))
        if not timed:
            parts += [f"campaign {_h(campaign_done)}", NO_ESTIMATE]
        else:
            current_left = max(0.0, self.expected_s.get(self.current, elapsed) - elapsed) if self.current else 0.0
            remaining = current_left + sum(self.expected_s.get(node, 0.0) for node in todo)
            total = campaign_done + remaining
            at_least = "≥ " if len(timed) < len(left) else ""
            parts.append(
                f"campaign {_h(campaign_done)} of {at_least}{_h(total)}"
                + (f" ({100 * campaign_done / total:.0f} %)" if total > 0 else "")
            )
            rate = campaign_done / (wall_now - self.wall0) if wall_now > self.wall0 else 0.0  # rig s per wall s
            if rate > 0:
                eta = datetime.now(UTC).timestamp() + remaining / rate
                parts.append(f"ETA {at_least}{datetime.fromtimestamp(eta, UTC):%Y-%m-%d %H:%M} UTC")
        if latest:
            parts.append(latest)
        counter = f"[{self.finished + (1 if self.current else 0)}/{len(self.selected)}]"
        return f"{counter} " + SEPARATOR.join(parts)


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
