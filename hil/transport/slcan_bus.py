"""python-can's slcan client, reading what the adapter has sent in one read instead of a byte at a time.

python-can 4.6.1 (the release the lock pins, and the newest on the package index) reads an slcan adapter one byte per
`read(1)`: a select and a read system call per byte, some 22 for every frame, which made a campaign on the emulated
CAN rig cost four times the serial rig's CPU. python-can's main branch reads everything waiting at once since its
pull request #2028 (merged 2026-02-21, in no release yet); this class does the same until a release has it, and then
goes. Frames, their order, timeouts and errors are python-can's: only how the bytes are taken from the port differs.
"""

import serial
from can.exceptions import error_check
from can.interfaces.slcan import slcanBus


class SlcanBus(slcanBus):
    def _read(self, timeout: float | None) -> str | None:
        """The next line the adapter sent (a frame or a reply, ending in CR, or BEL for an error), or None when
        none is complete within `timeout` seconds (a timeout of 0 still reads what is waiting). A line that is not
        text (a byte the wire garbled) is a UnicodeDecodeError, a ValueError as python-can's parser raises for a
        garbled line, once: it has left the buffer (python-can 4.6.1 decodes before it deletes, so such a line
        failed every later read)."""
        deadline = serial.Timeout(timeout)  # type: ignore[arg-type]  # pyserial takes None: no deadline
        with error_check("Could not read from serial device"):
            line = self._take_line()
            while line is None:
                self._buffer.extend(self.serialPortOrig.read(self.serialPortOrig.in_waiting or 1))
                line = self._take_line()
                if deadline.expired():
                    break
        return None if line is None else line.decode()

    def holds_a_line(self) -> bool:
        """Whether a whole line was read from the port and not yet given (the port may be empty meanwhile)."""
        return self._line_end() is not None

    def _take_line(self) -> bytes | None:
        end = self._line_end()
        if end is None:
            return None
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    def _line_end(self) -> int | None:
        ends = [i for i in (self._buffer.find(self._OK), self._buffer.find(self._ERROR)) if i >= 0]
        return min(ends) if ends else None
