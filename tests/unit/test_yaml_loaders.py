"""The requirement, rig, claims and scenario files are parsed by libyaml's parser where PyYAML has it, and by PyYAML's
own Python parser otherwise and for every message (hil.yamlfile): both must give the same data, the same line of
every key and the same duplicate keys, and a file the fast one cannot load must be said as the Python one says it."""

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hil import yamlfile

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for folder in ("specs", "fixtures", "claims") for p in (ROOT / folder).rglob("*.yaml"))

pytestmark = pytest.mark.skipif(yamlfile.CParser is None, reason="PyYAML without libyaml: one loader only")


def _both(text: str, file: Path = Path("x.yaml")):
    loaded = []
    for loader in (yamlfile._LimitedLoader, yamlfile._FastLimitedLoader):
        node, data, duplicates = yamlfile._loaded(loader(text))
        loaded.append((data, yamlfile._places(file, node), duplicates))
    return loaded


def _parsed(path: Path) -> tuple:
    problems: list[yamlfile.Problem] = []
    located = yamlfile.parse(path, problems)
    return (located.data, located.places) if located else None, problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_loads_or_fails_the_same_with_either_parser(path, monkeypatch):
    """The shipped files, the invalid examples among them: the same data, lines and problems."""
    fast = _parsed(path)
    monkeypatch.setattr(yamlfile, "CParser", None)  # the Python loader alone
    assert fast == _parsed(path)


TRICKY = [
    "a: &x {b: [1, 2.5, .nan, .inf, 1e3, 0x1F, 0o17, 1_000]}\nc: *x\nd: 2026-02-28\ne: 2026-02-28T10:00:00Z\n",
    "a: |\n  two\n  lines\nb: >-\n  folded\n  text\nc: 'it''s'\nd: \"tab\\there \\u00e9\"\n",
    "- ~\n- null\n- yes\n- No\n- on\n- '1'\n- !!str 2\n- !!float 3\n- [a, {b: c}]\n- ? complex\n  : key\n",
    "a: 1\nb: 2\na: 3\nnested:\n  x: 1\n  x: 2\n",
    "# only a comment\n",
    "",
    "key: value  # trailing\nlist:\n- 1\n-   - 2\n    - 3\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_yaml_loads_the_same_with_either_parser(text):
    python, fast = _both(text)
    assert python == fast


BROKEN = [
    "a: [1, 2\n",
    "a: b: c\n",
    "a:\n  - 1\n - 2\n",
    "a: *undefined\n",
    "a: \x07\n",
    "a: 2026-02-31\n",
    "- " * 60 + "x\n",
]


@pytest.mark.parametrize("text", BROKEN)
def test_a_file_that_does_not_load_is_said_as_pythons_loader_says_it(text, tmp_path, monkeypatch):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    fast = _parsed(path)
    monkeypatch.setattr(yamlfile, "CParser", None)  # the Python loader alone
    assert fast == _parsed(path) and fast[0] is None and len(fast[1]) == 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
)
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(documents, st.sampled_from([None, False, True]))
def test_any_document_dumped_loads_the_same_with_either_parser(document, flow_style):
    python, fast = _both(yaml.safe_dump(document, default_flow_style=flow_style, allow_unicode=True))
    assert python == fast


def _outcome(compose, text: str):
    try:
        node, data, duplicates = compose(text)
    except yaml.YAMLError:
        return "refused"
    return data, yamlfile._places(Path("x.yaml"), node), duplicates


# YAML's indicators and the characters where libyaml and PyYAML differ (tabs, byte-order marks, tags, line breaks)
TOKENS = [*"ab:-[]{},'\"|>#&*!?% 0.1e~@`\\", "\n", "\n  ", ": ", "- ", "---", "...", "!!str ", "&a ", "*a", "\t",
          "\ufeff", "\r", "\x85", "\u2028", "null", "yes", "<<", "é"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=16), st.booleans())
def test_any_text_loads_or_is_refused_as_pythons_loader_alone_does(tokens, line_end):
    """A fuzz of YAML's tokens: where the fast path would differ from PyYAML's parser (found by this fuzz: tabs, a
    byte-order mark within the text, `?` in a flow collection, `!`, a comment after a block scalar's header, other
    line breaks, no last line break) it is not taken, so what is loaded, and what is refused, is PyYAML's."""
    text = "".join(tokens) + ("\n" if line_end else "")
    alone = _outcome(lambda t: yamlfile._loaded(yamlfile._LimitedLoader(t)), text)
    assert _outcome(yamlfile._compose_and_construct, text) == alone
