"""A scripted instrument on the master side of a real pty, for driver tests: each command line received is
answered with the lines `answer(command)` returns (written in one go, as a relay that duplicates a line would)."""

import os
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
        threading.Thread(target=self._serve, daemon=True).start()

    def send(self, *lines: str) -> None:
        """Unsolicited lines, as a stream or a late duplicate would arrive."""
        os.write(self.master, b"".join(line.encode() + b"\r\n" for line in lines))

    def _serve(self) -> None:
        buffer = b""
        while True:
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
        os.close(self.master)
        os.close(self.slave)
