"""The repository stands on its own: every note, file and section it cites is in it.

Scans every tracked text file for (a) citations of Markdown files that are not in the repository, paths into the
repository (in the documentation and data files) that do not exist, and `docs/references.md, "<section>"` citations
whose section is not a `##` heading of `docs/references.md`, and (b) the names of the team's notes kept outside the
repository, which the project never cites. A failure lists one line per bad citation: file:line: what.
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCES = "docs/references.md"
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".md", ".toml", ".json", ".js", ".sh", ".txt"}
PATH_CHECKED_SUFFIXES = {".md", ".yaml", ".yml", ".toml"}  # documentation and data: every repository path must exist

# The team's notes outside the repository (built from parts, so that this file does not name them itself).
OUTSIDE = re.compile(
    "|".join(
        [
            "REFERENCES" + r"\.md",
            "metrology" + r"\.md",
            "standards-and-" + "clinical",
            "frameworks-and-" + "ecosystem",
            "DESIGN" + r"\.md",
            r"(?<![\w.-])(?:\.\./)*" + "shared" + "/",
            r"(?<!docs/)(?<![\w-])" + "references" + r"/[a-z-]+\.md",
        ]
    )
)
MARKDOWN_NAME = re.compile(r"(?<![\w/.-])((?:\.{1,2}/)*(?:[\w.-]+/)*[\w-][\w.-]*\.md)\b")
REPO_PATH = re.compile(
    r"(?<![\w/.*<>{}$-])((?:\.{1,2}/)*[\w.-]+(?:/[\w.-]+)+\.(?:md|ya?ml|json|toml|py|sh|csv|dbc|js|txt|ini))\b(?![*/<>{}])"
)
URL = re.compile(r"\b(?:https?://|www\.|github\.com/)\S+")
# `docs/references.md, "A"`, with more sections as `, "B"` or ` and "B"`; JSON escapes the quotes. In backticks or
# quotes (a string holding the name) it stands for the file itself, not for a source.
CITATION = re.compile(r"docs/references\.md")
SECTION = re.compile(r'(?:, | and )\\?"([^"\\]+)\\?"')

# Paths the documentation names on purpose although they are not in the repository, with the reason.
NOT_IN_REPOSITORY = {
    "fixtures/rigs/bench-1.yaml": "the user's own bench rig file, which docs/bench.md has them write",
    "fixtures/rigs/bench-acme-x2.yaml": "a pump maker's own rig file in docs/drivers.md's example",
}


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    files = []
    for name in names:
        path = ROOT / name
        if "node_modules" in path.parts or name.endswith(".lock") or path.name == "package-lock.json":
            continue
        if path.suffix in TEXT_SUFFIXES and path.is_file() and not path.is_symlink():
            files.append(path)
    return files


def reference_sections() -> list[str]:
    return [line[3:].strip() for line in (ROOT / REFERENCES).read_text().splitlines() if line.startswith("## ")]


def tracked_markdown() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in tracked_text_files() if p.suffix == ".md"}


def exists(path: str, citing: Path) -> bool:
    """A path as written: from the citing file's folder when it starts with ../; from the root otherwise; with ./
    from either (a rig file's `./x` is its folder's, a command line's `./scripts/x` the project root's)."""
    bases = [citing.parent] if path.startswith("../") else [ROOT]
    if path.startswith("./"):
        bases.append(citing.parent)
    if citing.name == "pyproject.toml":
        bases.append(ROOT / "hil")  # package data is named from its package's folder
    return any((base / path).resolve().exists() for base in bases)


def top_level() -> set[str]:
    return {p.relative_to(ROOT).parts[0] for p in tracked_text_files()}


def problems() -> list[str]:
    sections = set(reference_sections())
    markdown = tracked_markdown()
    markdown_names = {Path(m).name for m in markdown}
    tops = top_level()
    found = []
    for path in tracked_text_files():
        name = str(path.relative_to(ROOT))
        for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
            line = URL.sub("", raw)
            where = f"{name}:{number}"
            for match in OUTSIDE.finditer(line):
                found.append(f"{where}: cites {match.group(0)!r}, a note outside the repository")
            for match in MARKDOWN_NAME.finditer(line):
                cited = match.group(1)
                if OUTSIDE.search(cited):
                    continue  # reported above
                ok = exists(cited, path) if "/" in cited else cited in markdown_names
                if not ok:
                    found.append(f"{where}: {cited} is not a Markdown file of the repository")
            if path.suffix in PATH_CHECKED_SUFFIXES:
                for match in REPO_PATH.finditer(line):
                    cited = match.group(1)
                    relative = cited.startswith(("./", "../"))
                    if cited.endswith(".md") or OUTSIDE.search(cited) or cited in NOT_IN_REPOSITORY:
                        continue  # Markdown names are checked above
                    if (relative or cited.split("/")[0] in tops) and not exists(cited, path):
                        found.append(f"{where}: {cited} is not in the repository")
            if name == REFERENCES:
                continue
            for match in CITATION.finditer(line):
                if line[max(0, match.start() - 1) : match.start()] == "`" or line[match.end() : match.end() + 1] in (
                    '"',
                    "'",
                    "`",
                ):
                    continue
                rest = line[match.end() :]
                cited = []
                while (section := SECTION.match(rest)) is not None:
                    cited.append(section.group(1))
                    rest = rest[section.end() :]
                if not cited:
                    found.append(f'{where}: cites {REFERENCES} without a section (write {REFERENCES}, "<section>")')
                    continue
                found.extend(
                    f'{where}: {REFERENCES} has no section "{section}"' for section in cited if section not in sections
                )
    return found


def test_every_citation_is_in_the_repository():
    found = problems()
    assert not found, "\n" + "\n".join(found)


def test_the_references_page_has_unique_sections():
    sections = reference_sections()
    assert sections and len(sections) == len(set(sections)), sections

