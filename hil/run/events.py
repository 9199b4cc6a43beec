"""What `hil verify` and `hil validate` say of their run to the program that started them (`hil --json ...`): one
JSON object per line on stdout, and nothing else there, so a caller learns the run's id as it starts and how it ended
without reading the human output:

    {"event": "run", "run": "<id>", "folder": "<path>"}   the run folder exists; its tests start
    {"event": "ended", "run": "<id>", "folder": "<path>", "exit_status": 0, "kind": "COMPLETE"}   (kind None: unsealed)
    {"event": "discarded", "run": "<id>", "exit_status": 5}   nothing ran: the folder is gone
    {"event": "validation", "folder": "<path>"}   hil validate's folder, as it is made (its outcome: the exit status)

Enabled, the process's file descriptor 1 becomes its stderr and the events keep a descriptor of their own: whatever
else writes to stdout in this process or its children (the console, pytest, a lab's output plugin, a driver's print,
a C library) goes to stderr. A run that started and did not say how it ended (an exception on the way out) gets its
"ended" with kind None from `close`; a reader that has gone stops the events, never the run."""

import json
import os
from typing import TextIO

_stream: TextIO | None = None
_open_run: dict[str, object] | None = None  # the run said to have started and not yet to have ended


def enable() -> None:
    global _stream
    _stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)


def enabled() -> bool:
    return _stream is not None


def emit(event: str, **fields: object) -> None:
    """One event line, flushed at once (a caller may act on it while the run goes on), when enabled."""
    global _stream, _open_run
    if event == "run":
        _open_run = {"run": fields["run"], "folder": fields["folder"]}
    elif event in ("ended", "discarded"):
        _open_run = None
    if _stream is None:
        return
    line = json.dumps({"event": event, **fields}, default=str)  # a folder's Path as its text
    try:
        _stream.write(line + "\n")
        _stream.flush()
    except OSError:  # the reader has gone (a lost validation worker): the run goes on without its events
        _stream = None


def close(exit_status: int) -> None:
    """At the process's end: a run said to have started gets its "ended" (not sealed) if nothing said it ended."""
    if _open_run is not None:
        emit("ended", **_open_run, exit_status=exit_status, kind=None)
