"""Does the balance see the pump? A known delivery, as the balance weighed it, judged against the share of it the
rig file asks the balance to see at least (`infusion_set.check_seen_min_pct`), with a diagnosis of what a balance
that did not see it most likely is: stuck, off by a unit's factor, or not under this pump's line (docs/bench.md,
"The balance must see the pump"). The weighing is hil.procedures.delivery.check_coupling's.
"""

from dataclasses import dataclass

SCALE_SLIP = 1000.0  # the factor a unit mislabelled g for mg (or mg for g) puts on every weight


@dataclass(frozen=True)
class CouplingCheck:
    """A known delivery as the balance weighed it."""

    commanded_U: float
    weighed_U: float
    U_U: float  # expanded uncertainty (k = 2) of the weighed amount
    before_mg: float
    after_mg: float
    readability_mg: float  # the balance's, as the rig file states it

    def _finer_than_readable(self) -> bool:
        """A reading with digits below the balance's readability: its replies state another unit than it weighs
        in (a real balance shows whole steps of its readability)."""
        steps = (reading / self.readability_mg for reading in (self.before_mg, self.after_mg))
        return any(abs(step - round(step)) > 0.01 for step in steps)

    @property
    def seen_pct(self) -> float:
        return 100.0 * self.weighed_U / self.commanded_U

    def problem(self, seen_min_pct: float) -> str | None:
        """Why the balance cannot be shown to see this pump, or None when it did. Only what marks the instrument is
        the rig's: a reading unchanged in its last digit, a weight 1000 times off, less of the delivery than
        seen_min_pct even with the weighing's expanded uncertainty added, or seen_min_pct within that uncertainty (it
        cannot tell). A balance that weighs a clear share of the delivery (seen_min_pct or more with the uncertainty
        taken off) sees the pump, whatever the pump delivered: how much, and whether too much, is for the
        requirements to judge."""
        slack_pct = 100.0 * self.U_U / self.commanded_U
        seen = (
            f"the balance weighed {self.weighed_U:.4f} ± {self.U_U:.4f} U ({self.seen_pct:.1f} %) of a "
            f"{self.commanded_U:g} U prime (reading {self.before_mg:.5f} mg before, {self.after_mg:.5f} mg after)"
        )
        if self.before_mg == self.after_mg:
            return f"{seen}: the reading did not change in its last digit, a stuck display or frozen link"
        if self._finer_than_readable() and 0.5 / SCALE_SLIP <= self.seen_pct / 100.0 <= 2.0 / SCALE_SLIP:
            return (
                f"{seen}: a weight {SCALE_SLIP:g} times too small, in digits finer than the balance's "
                f"{self.readability_mg:g} mg readability (a reply in g labelled mg?), check the balance's unit"
            )
        if 0.5 * SCALE_SLIP <= self.seen_pct / 100.0 <= 2.0 * SCALE_SLIP:
            return (
                f"{seen}: a weight {SCALE_SLIP:g} times too large (a reply in mg read as g?), check the balance's unit"
            )
        if self.seen_pct - slack_pct >= seen_min_pct:
            return None
        if self.seen_pct + slack_pct < seen_min_pct:
            return (
                f"{seen}: less than the {seen_min_pct:g} % the rig file asks, the line does not reach this balance's "
                "vessel, another balance answers on its port, or the pump delivered next to nothing (the rig cannot "
                "tell these apart, so the pump is not blamed)"
            )
        return (
            f"{seen}: the {seen_min_pct:g} % the rig file asks lies within its uncertainty, so it cannot show that the "
            "balance sees the pump; prime more (infusion_set.check_U) or weigh on a finer balance"
        )
