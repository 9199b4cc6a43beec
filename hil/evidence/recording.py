"""Append-only CSV recording. Every row is flushed to the operating system as it is written, so a crash of
the harness or the emulator loses nothing recorded; the file is also fsync'ed to the disk at most once per
wall-clock second (and on close), which bounds what a power cut could take to the last second of samples
without paying a disk sync (~0.3 ms here) for every sample of a simulated run."""

import csv
import os
import time
from pathlib import Path


class CsvRecording:
    def __init__(self, path: Path, columns: list[str], *, sync_interval_s: float = 1.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._sync_interval_s = sync_interval_s
        self._last_sync = time.monotonic()
        self.columns = tuple(columns)
        self.last: tuple = ()  # the latest row recorded (for the progress display)
        self.append(*columns)

    def append(self, *row) -> None:
        self._writer.writerow(row)
        self.last = row
        self._file.flush()
        now = time.monotonic()
        if now - self._last_sync >= self._sync_interval_s:
            os.fsync(self._file.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> "CsvRecording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
