"""The `E<n>` numbers of a framed link's unsolicited events (docs/protocol.md §1, Events).

The first number seen after connecting sets the base: a pump's count does not restart when the harness
connects, nor on the emulator's RESET. From then on each event must carry the next number. A skipped number is
an event lost on the wire, a number going back is a restarted or reordered stream: both are kept in `faults`
(a rig fault for the driver to raise at its next status or events call, not in the middle of an exchange) and
logged. The same number twice is a duplicated line: `accept` says so, and the link drops it and reports it.
"""

import logging

from hil.errors import ProtocolError

log = logging.getLogger(__name__)


class EventCounter:
    def __init__(self, device: str):
        self.device = device
        self.last: int | None = None
        self.faults: list[str] = []

    def accept(self, tag: str) -> bool:
        """Whether the event with this tag is new (False for a duplicate, which the caller drops)."""
        n = self._number(tag)
        last, self.last = self.last, n
        if last is None or n == last + 1:
            return True
        if n == last:
            return False
        if n > last:
            self.faults.append(f"event counter jumped from E{last} to E{n}: {n - last - 1} event(s) lost on the wire")
        else:
            self.faults.append(f"event counter went back from E{last} to E{n}: the stream restarted or was reordered")
        log.error("%s: %s", self.device, self.faults[-1])
        return True

    def _number(self, tag: str) -> int:
        digits = tag[1:]
        if tag[:1] != "E" or not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
            raise ProtocolError(f"{self.device}: event tag {tag!r} is not E<n> with n ≥ 1")
        return int(digits)
