"""What a user probably meant: the key a misspelt one should be, the file a path that does not exist should be.

A misspelt required key is one problem, not two: told as the unknown key it is, naming the missing key it should be,
never as "missing 'repeatability_mg'" and "unknown key 'repeatibility_mg'" apart.
"""

from collections.abc import Iterable
from difflib import get_close_matches
from pathlib import Path

KeyPath = tuple  # of mapping keys and list indexes
LISTED_KEYS = 12  # an unknown key close to none is told with the keys its mapping takes, when they are this few


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to the word, if any is close (difflib's default cutoff)."""
    found = get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def key_problems(
    path: KeyPath, unknown: Iterable, missing: Iterable[str], allowed: Iterable[str]
) -> list[tuple[KeyPath, str]]:
    """(key path, message) of the unknown and missing keys of one mapping: each unknown key at itself, with the
    missing key it is close to (then that key is not reported missing), else with the allowed key it is close to (a
    child rig file may misspell a key its parent gives), else with the allowed keys if they are few; the missing
    keys left, at the mapping."""
    left, keys = list(missing), sorted(allowed)
    listed = f" (known here: {', '.join(keys)})" if 0 < len(keys) <= LISTED_KEYS else ""
    found: list[tuple[KeyPath, str]] = []
    for key in unknown:
        required = close_match(str(key), left)
        if required is not None:
            left.remove(required)
            found.append((path + (key,), f"unknown key; did you mean '{required}', which is missing?"))
            continue
        meant = close_match(str(key), keys)
        found.append((path + (key,), f"unknown key; did you mean '{meant}'?" if meant else f"unknown key{listed}"))
    if left:
        found.append((path, "missing " + ", ".join(f"'{key}'" for key in left)))
    return found


def file_meant(path: Path, candidates: Iterable[Path]) -> Path | None:
    """The candidate whose file name is closest to the path's (the shallowest of those with that name)."""
    by_name: dict[str, Path] = {}
    for candidate in sorted(candidates, key=lambda p: (len(p.parts), str(p))):
        by_name.setdefault(candidate.name, candidate)
    name = close_match(path.name, by_name)
    return by_name[name] if name is not None else None
