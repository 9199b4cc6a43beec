"""YAML files validated by JSON Schema, with every problem located by file, line and key."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f" at '{self.key}'" if self.key else ""
        return f"{self.file}:{self.line}:{where} {self.message}"


class YamlFileError(Exception):
    """Files that cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


LineOf = Callable[[tuple], int]


def parse(file: Path, problems: list[Problem]) -> tuple[Any, LineOf] | None:
    """Parse one file; on a syntax error append the problem and return None."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(Problem(file, 0, "", f"cannot read file: {exc.strerror}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, 0, "", f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}"))
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(Problem(file, mark.line + 1 if mark else 0, "", f"YAML syntax error: {exc.problem or exc.context}"))
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        problems.append(Problem(file, line, "", f"YAML error: character {exc.character!r} is not allowed"))
        return None
    lines = _line_index(node)

    def line_of(path: tuple) -> int:
        while path and path not in lines:
            path = path[:-1]
        return lines.get(path, 1)

    return data, line_of


def validate(file: Path, data: Any, line_of: LineOf, schema: dict[str, Any], problems: list[Problem]) -> bool:
    """Validate against the schema; append every problem located by line and key; True when valid."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    for err in errors:
        path = tuple(err.absolute_path)
        problems.append(Problem(file, line_of(path), ".".join(str(p) for p in path), _schema_message(err)))
    return not errors


def load(file: Path, schema: dict[str, Any], problems: list[Problem]) -> tuple[Any, LineOf] | None:
    """Parse and validate one file; append its problems and return None if there are any."""
    parsed = parse(file, problems)
    if parsed is None or not validate(file, parsed[0], parsed[1], schema, problems):
        return None
    return parsed


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "required":
        missing = [name for name in err.validator_value if name not in err.instance]
        return "missing " + ", ".join(f"'{m}'" for m in missing)
    if err.validator == "additionalProperties":
        return f"unknown key: {err.message.split('(')[-1].rstrip(')')}"
    if err.validator == "anyOf" and isinstance(err.instance, dict) and "metric" in err.instance:
        return "a bound needs 'min', 'max' or both"
    return err.message


def _line_index(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Map every key path (as jsonschema's absolute_path) to the 1-based line where it starts."""
    index: dict[tuple, int] = {}
    if node is None:
        return index
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            index.update(_line_index(value_node, child))
            index[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_line_index(item, path + (i,)))
    return index
