"""A scripted instrument on the master side of a real pty, for driver tests: each command line received is
answered with the lines `answer(command)` returns (written in one go, as a relay that duplicates a line would)."""

import os
import select
import threading
import tty
from typing import Callable


class ScriptedInstrument:
    def __init__(self, answer: Callable[[str], list[str]]):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self.commands: list[str] = []
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, *lines: str) -> None:
        """Unsolicited lines, as a stream or a late duplicate would arrive."""
        os.write(self.master, b"".join(line.encode() + b"\r\n" for line in lines))

    def _serve(self) -> None:
        buffer = b""
        while True:
            if self._stop_r in select.select([self.master, self._stop_r], [], [])[0]:
                return
            try:
                buffer += os.read(self.master, 100)
            except OSError:
                return
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command = line.decode().strip()
                self.commands.append(command)
                self.send(*self.answer(command))

    def close(self) -> None:
        """Stop answering before the descriptors go: a reused descriptor number must not reach this thread."""
        os.write(self._stop_w, b"x")
        self._thread.join()
        for fd in (self.master, self.slave, self._stop_r, self._stop_w):
            os.close(fd)
