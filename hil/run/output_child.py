"""Another package's output, in a process of its own (hil.run.outputs): `python -m hil.run.output_child
MODULE:ATTRIBUTE RUN_DIR` reads the run's record.json, types it, calls the output and prints one JSON line, {"path":
...} or {"error": ...}. Whatever the output prints itself goes to stderr."""

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from hil.run.record import RECORD


def main(target: str, run_dir: Path) -> dict:
    try:
        module, _, attribute = target.partition(":")
        output: Any = importlib.import_module(module)
        for part in attribute.split("."):
            output = getattr(output, part)
        record = RECORD.validate_json((run_dir / "record.json").read_text(encoding="utf-8"))
        path = output(run_dir, record)
        return {"path": str(path) if path else None}
    except BaseException as exc:  # a lab's output may fail in any way: said, never a traceback
        return {"error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    said = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the output's own prints are not the answer
    said.write(json.dumps(main(sys.argv[1], Path(sys.argv[2]))) + "\n")
    said.flush()
