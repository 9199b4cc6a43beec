"""YAML files read safely, with every problem located by file, line and key.

A file is parsed once into a node tree under limits (size, nesting depth, nodes expanded through aliases), so
any input loads or fails within seconds; duplicate keys are refused; the data is built from that same tree and
each key path keeps the file and line it was written at, so a problem found later (by a JSON Schema or a
pydantic model) is still reported where it is.
"""

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the Python loader alone
    CParser = None  # type: ignore[misc,assignment]

from hil import did_you_mean

MAX_BYTES = 1_000_000  # a requirement or rig file is a few kB
MAX_DEPTH = 50  # mappings and lists nested inside each other
MAX_NODES = 100_000  # scalars, lists and mappings, counting what each alias repeats


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int | None  # None: the whole file's (it cannot be read, it is too large)
    key: str
    message: str

    def __str__(self) -> str:
        line = f"{self.line}:" if self.line is not None else ""
        where = f" at '{self.key}'" if self.key else ""
        return f"{self.file}:{line}{where} {self.message}"


class YamlFileError(Exception):
    """Files that cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


KeyPath = did_you_mean.KeyPath  # as jsonschema's absolute_path


@dataclass
class Located:
    """A file's data and the (file, line) each key path of it was written at."""

    data: Any
    places: dict[KeyPath, tuple[Path, int]]

    def where(self, path: KeyPath) -> tuple[Path, int]:
        """The place of the path, or of its nearest written ancestor (a missing key is reported at its parent)."""
        path = tuple(path)
        while path and path not in self.places:
            path = path[:-1]
        return self.places[path]

    def problem(self, path: KeyPath, message: str) -> Problem:
        file, line = self.where(path)
        return Problem(file, line, ".".join(str(p) for p in path), message)


class _LimitError(yaml.MarkedYAMLError):
    pass


class _ValueError(yaml.MarkedYAMLError):
    """A scalar the constructor cannot convert (a date 2026-02-31), at the scalar."""


class _Limits:
    """PyYAML's safe loading, refusing a tree nested deeper than MAX_DEPTH or larger than MAX_NODES once its aliases
    are expanded (an alias bomb), while it is composed: before any of it is walked."""

    _depth = 0
    _sizes: dict[int, int]

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark  # type: ignore[attr-defined]  # the parser's, mixed in beside
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitError(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]  # the Composer's, mixed in beside
        finally:
            self._depth -= 1
        size = self._sizes.get(id(node)) or 1 + sum(self._sizes[id(child)] for child in _children(node))
        if size > MAX_NODES:
            raise _LimitError(problem=f"more than {MAX_NODES} values once aliases are expanded", problem_mark=mark)
        self._sizes[id(node)] = size
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]  # the constructor's, mixed in beside
        except (ValueError, OverflowError) as exc:
            raise _ValueError(problem=str(exc), problem_mark=node.start_mark) from None


class _LimitedLoader(_Limits, yaml.SafeLoader):
    """PyYAML's own safe loader in Python, under the limits: its messages locate every problem."""

    def __init__(self, text: str):
        super().__init__(text)
        self._sizes = {}


if CParser is not None:  # libyaml's parser is installed

    class _FastLimitedLoader(
        _Limits, yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
    ):
        """The same loader with libyaml's scanner and parser (CParser, the C half of yaml.CSafeLoader), composed,
        limited and constructed by the same Python code: the same tree and data, about four times as fast (specs/ was
        half a second of every campaign's start, parsed by `hil` and again by its pytest). A file it cannot load is
        loaded again by _LimitedLoader, whose messages are the ones said."""

        def __init__(self, text: str):
            CParser.__init__(self, text)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)
            self._sizes = {}


def _children(node: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def parse(file: Path, problems: list[Problem], meant: Iterable[Path] = ()) -> Located | None:
    """Parse one file, appending its problems (located); None when it has no data to validate. A file that does not
    exist is told with the one of `meant` (read only then) whose name is closest to its own."""
    file = Path(file)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            problems.append(
                Problem(file, None, "", f"file is {size:,} bytes; a requirement or rig file is at most {MAX_BYTES:,}")
            )
            return None
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        other = did_you_mean.file_meant(file, meant) if isinstance(exc, FileNotFoundError) else None
        hint = f"; did you mean {other}?" if other is not None else ""
        problems.append(Problem(file, None, "", f"cannot read file: {exc.strerror}{hint}"))
        return None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        problems.append(
            Problem(file, line, "", f"not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}")
        )
        return None
    try:
        node, data, duplicates = _compose_and_construct(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        kinds = {_LimitError: "YAML file over the limits", _ValueError: "YAML value error"}
        kind = kinds.get(type(exc), "YAML syntax error")
        problems.append(Problem(file, mark.line + 1 if mark else None, "", f"{kind}: {exc.problem or exc.context}"))
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        problems.append(Problem(file, line, "", f"YAML error: character {exc.character!r} is not allowed"))
        return None
    # Reported, and the file still validated (with the last value) so that all its problems are listed at once.
    problems.extend(Problem(file, line, key, message) for line, key, message in duplicates)
    return Located(data, _places(file, node))


# Where libyaml and PyYAML's Python parser disagree (a fuzz of both, tests/unit/test_yaml_loaders.py): libyaml takes a
# tab as a separator, a comment right after a block scalar's header, a byte-order mark within the text and a plain
# scalar with `?` in a flow collection, gives an empty node with the bare tag `!` the value "" (PyYAML: None), reads
# other line breaks (CR, NEL, LS, PS) apart, and places an empty document without a last line break a line lower.
# A text with any of them, or not ending in a line break, is PyYAML's alone; a `?` only when it is not inside a
# quoted or block scalar (a question in a requirement's prose is).
_LIBYAML_DIFFERS = re.compile("[\t\ufeff!\r\x85\u2028\u2029]|[|>][-+0-9]*#|[^\n]\\Z")
_QUOTED_OR_BLOCK = frozenset({'"', "'", "|", ">"})  # a scalar node's style; None is plain


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any, list[tuple[int, str, str]]]:
    """The node tree (composed once, under the limits), the data built from it, and its duplicate keys: by libyaml's
    parser where it is installed and the text loads, else (and for the message of what is wrong) by PyYAML's."""
    if CParser is not None and not _LIBYAML_DIFFERS.search(text):
        try:
            loaded = _loaded(_FastLimitedLoader(text))
            if _every_question_mark_quoted(text, loaded[0]):
                return loaded
        except Exception:  # whatever it is, the reference loader says it
            pass
    return _loaded(_LimitedLoader(text))


def _every_question_mark_quoted(text: str, root: yaml.Node | None) -> bool:
    """Every `?` of the text is in a quoted or block scalar's value (counted once per node, aliases or not)."""
    wanted = text.count("?")
    if not wanted:
        return True
    found, seen, stack = 0, set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) and node.style in _QUOTED_OR_BLOCK:
            found += node.value.count("?")
        stack.extend(_children(node))
    return found == wanted


def _loaded(loader) -> tuple[yaml.Node | None, Any, list[tuple[int, str, str]]]:
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, []
        return node, loader.construct_document(node), _duplicate_keys(node)
    finally:
        loader.dispose()


def _duplicate_keys(root: yaml.Node) -> list[tuple[int, str, str]]:
    """(line, key path, message) of every key written twice in one mapping, at the second one's line
    (YAML would silently keep the last)."""
    found: list[tuple[int, str, str]] = []
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    seen_nodes: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    if key_node.value in first:
                        where = ".".join(map(str, path + (key_node.value,)))
                        found.append(
                            (line, where, f"duplicate key '{key_node.value}' (first at line {first[key_node.value]})")
                        )
                    first.setdefault(key_node.value, line)
                stack.append((value_node, path + (key_node.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path + (i,)) for i, item in enumerate(node.value))
    return sorted(found)


def _places(file: Path, node: yaml.Node | None) -> dict[KeyPath, tuple[Path, int]]:
    """Map every key path to the (file, 1-based line) where it starts; a key to its key's line."""
    places: dict[KeyPath, tuple[Path, int]] = {(): (file, node.start_mark.line + 1 if node is not None else 1)}
    stack: list[tuple[yaml.Node | None, KeyPath]] = [(node, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = path + (key_node.value,)
                places[child] = (file, key_node.start_mark.line + 1)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                places[path + (i,)] = (file, item.start_mark.line + 1)
                stack.append((item, path + (i,)))
    return places


def finite_number(value: Any) -> bool:
    """A number a float holds: not NaN or infinite, nor an integer beyond a float's range (YAML reads 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _finite_number(checker, instance) -> bool:
    return finite_number(instance)


def _integer(checker, instance) -> bool:
    return isinstance(instance, int) and finite_number(instance)


# JSON Schema "number" means a finite number here (YAML has .nan and .inf), and "integer" an int (not 25.0).
StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _finite_number, "integer": _integer}
    ),
)


def validate(
    located: Located,
    schema: dict[str, Any],
    problems: list[Problem],
    ignored: Iterable[KeyPath] = (),
    notes: dict[KeyPath, str] | None = None,
) -> bool:
    """Validate against the schema; append every problem located by file, line and key; True when valid. Errors
    at the `ignored` paths (told otherwise) are left out, and an error at a path of `notes` says its note too (where
    the value came from)."""
    skip, notes = set(ignored), notes or {}
    errors = [err for err in StrictValidator(schema).iter_errors(located.data) if tuple(err.absolute_path) not in skip]
    mappings: dict[KeyPath, tuple[dict, dict, dict]] = {}  # path: (missing, unknown, allowed), keys in order
    found = [
        (path, f"{_schema_message(err)}{notes.get(path, '')}")
        for err in errors
        if not _key_error(err, mappings)
        for path in [tuple(err.absolute_path)]
    ]
    found += [
        problem
        for path, (missing, unknown, allowed) in mappings.items()
        for problem in did_you_mean.key_problems(path, unknown, missing, allowed)
    ]
    found.sort(key=lambda item: list(map(str, item[0])))
    problems.extend(located.problem(path, message) for path, message in found)
    return not errors


def _key_error(err: jsonschema.ValidationError, mappings: dict[KeyPath, tuple[dict, dict, dict]]) -> bool:
    """Whether the error is a mapping's missing or unknown keys, which it adds to the mapping's in `mappings`: all of
    a mapping's are told together, a misspelt required key once (hil.did_you_mean)."""
    mapping, names, schema = err.instance, err.validator_value, err.schema
    if not isinstance(mapping, dict):  # "required" is checked on objects only (JSON Schema skips anything else)
        return False
    if err.validator == "required" and isinstance(names, list):
        missing, _, _ = mappings.setdefault(tuple(err.absolute_path), ({}, {}, {}))
        missing.update(dict.fromkeys(name for name in names if name not in mapping))
        return True
    if err.validator == "additionalProperties" and isinstance(schema, dict):
        _, unknown, allowed = mappings.setdefault(tuple(err.absolute_path), ({}, {}, {}))
        allowed.update(schema.get("properties", {}))
        unknown.update(dict.fromkeys(key for key in mapping if key not in allowed))
        return True
    return False


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "anyOf" and isinstance(err.instance, dict) and "metric" in err.instance:
        return "a bound needs 'min', 'max' or both"
    if err.validator == "type" and isinstance(err.instance, float) and not math.isfinite(err.instance):
        return f"{err.instance} is not a finite number"
    if err.validator == "type" and isinstance(err.instance, int) and not finite_number(err.instance):
        return f"an integer of {len(str(abs(err.instance)))} digits is beyond any finite number this file can hold"
    return err.message
