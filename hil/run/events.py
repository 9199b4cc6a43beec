"""What a command says of its run to the program that started it (`hil --json ...`): one JSON object per line on
stdout, and nothing else there (the console's lines and pytest's go to stderr), so a caller learns the run's id as
it starts and how it ended without reading the human output:

    {"event": "run", "run": "<id>", "folder": "<path>"}   the run folder exists; its tests start
    {"event": "ended", "run": "<id>", "folder": "<path>", "exit_status": 0, "kind": "COMPLETE"}   (kind None: unsealed)
    {"event": "discarded", "run": "<id>", "exit_status": 5}   nothing ran: the folder is gone
    {"event": "validation", "folder": "<path>", "nominal_run": "<id>", "exit_status": 0}   hil validate, at its end
"""

import json
import sys

_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def emit(event: str, **fields: object) -> None:
    """One event line on stdout, flushed at once (a caller may act on it while the run goes on), when enabled."""
    if _enabled:
        sys.stdout.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        sys.stdout.flush()
