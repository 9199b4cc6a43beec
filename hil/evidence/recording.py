"""Append-only CSV recording, flushed and fsync'ed per row: a crash loses nothing already sampled."""

import csv
import os
from pathlib import Path


class CsvRecording:
    def __init__(self, path: Path, columns: list[str], *, sync_every: int = 1):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(columns)
        self._file.flush()
        self._sync_every = sync_every
        self._rows = 0

    def append(self, *row) -> None:
        self._writer.writerow(row)
        self._file.flush()
        self._rows += 1
        if self._sync_every and self._rows % self._sync_every == 0:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> "CsvRecording":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
