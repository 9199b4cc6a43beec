"""The run's SHA-256 manifest (`sha256sum -c` format): every regular file of the run folder but the top-level
manifest itself. Verification reads only files it found inside the run by walking it without following links,
so a manifest line can never make it read outside the run."""

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hil.evidence.run import sha256_file

MANIFEST = "manifest.sha256"
DIGEST_CHARS = frozenset("0123456789abcdef")


class ManifestError(Exception):
    pass


@dataclass
class Tree:
    """What a walk of the run folder found: regular files and folders (run-relative POSIX paths), and entries
    that may not be in a run (symbolic links, devices, sockets, FIFOs)."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    forbidden: list[str] = field(default_factory=list)


def scan(run_dir: Path) -> Tree:
    tree = Tree()
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(run_dir / relative if relative else run_dir) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_symlink():
                    tree.forbidden.append(f"{name}: a symbolic link (a run holds only its own files and folders)")
                elif entry.is_dir(follow_symlinks=False):
                    tree.folders.add(name)
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False):
                    if name != MANIFEST:
                        tree.files.add(name)
                else:
                    tree.forbidden.append(f"{name}: not a regular file or folder")
    tree.forbidden.sort()
    return tree


def write_manifest(run_dir: Path) -> int:
    """Hash every file of the run into its manifest; the number of files. Empty folders hold no evidence and
    cannot be listed in this format: they are removed first, so every folder of a sealed run holds a listed file.
    Raises ManifestError when the run holds a link or a special file."""
    tree = scan(run_dir)
    if tree.forbidden:
        raise ManifestError("; ".join(tree.forbidden))
    for folder in sorted(tree.folders - _ancestors(tree.files), key=lambda f: -f.count("/")):
        (run_dir / folder).rmdir()
    lines = [f"{sha256_file(run_dir / name)}  {name}\n" for name in sorted(tree.files)]
    (run_dir / MANIFEST).write_text("".join(lines), encoding="utf-8")
    return len(lines)


def verify_manifest(run_dir: Path) -> list[str]:
    """Problems found, each naming the file, folder or manifest line. Empty when every file and folder of the
    run is listed and matches, and the manifest lists nothing else."""
    manifest = run_dir / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return [f"{MANIFEST}: {'a symbolic link' if manifest.is_symlink() else 'missing'} (the run is not sealed)"]
    tree = scan(run_dir)
    problems = list(tree.forbidden)
    listed: dict[str, int] = {}
    text = manifest.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    elif text:
        problems.append(f"{MANIFEST}:{len(lines)}: no newline at the end (the file was cut or edited)")
    for number, line in enumerate(lines, 1):
        digest, sep, name = line.partition("  ")
        where = f"{MANIFEST}:{number}"
        if not sep or len(digest) != 64 or not set(digest) <= DIGEST_CHARS:
            problems.append(f"{where}: malformed line (expected '<64 hex digits>  <path>')")
        elif (reason := _unsafe(name)) is not None:
            problems.append(f"{where}: path {name!r} {reason}")
        elif name in listed:
            problems.append(f"{where}: {name} listed again (first on line {listed[name]})")
        else:
            listed[name] = number
            if name not in tree.files:
                problems.append(f"{name}: missing (listed on {where})")
            elif sha256_file(run_dir / name) != digest:
                problems.append(f"{name}: SHA-256 differs from the manifest")
    if not lines:
        problems.append(f"{MANIFEST}: lists no file")
    problems += [f"{name}: not in the manifest" for name in sorted(tree.files - listed.keys())]
    problems += [
        f"{name}/: folder not in the manifest (no listed file in it)"
        for name in sorted(tree.folders - _ancestors(listed.keys()))
    ]
    return problems


def _unsafe(name: str) -> str | None:
    if name.startswith("/"):
        return "is absolute"
    parts = name.split("/")
    if ".." in parts:
        return "leaves the run folder ('..')"
    if "" in parts or "." in parts or "\0" in name:
        return "is not a plain relative path"
    if name == MANIFEST:
        return "is the manifest itself"
    return None


def _ancestors(files) -> set[str]:
    return {str(parent) for name in files for parent in PurePosixPath(name).parents if str(parent) != "."}
