"""Where a run's inputs and outputs are, so that `hil` works the same from the checkout and from an installed
wheel, in any folder.

* The **project root** holds what is the user's: their requirement files (specs/), their rig files
  (fixtures/rigs/) and the runs (reports/). It is `hil --root DIR`, else $HIL_ROOT, else the nearest folder from
  the current directory upward that holds a specs/ folder, else the current directory.
* The **reference data** ships with the package (hil/reference/, read with importlib.resources): the reference
  requirements, the reference pump's claims, the emulator rigs and seeded-defect rigs, the CAN database, the CGM
  and night scenarios and the safety suites. In the checkout these are symlinks to specs/, claims/, fixtures/ and
  tests/safety/; a wheel holds copies. A project without its own specs/, claims/ or fixtures/rigs/ uses the
  reference ones.
"""

import importlib.resources
import os
from pathlib import Path

ROOT_ENV = "HIL_ROOT"
SPECS = "specs"
RIGS = Path("fixtures") / "rigs"
CLAIMS = "claims"
DEFAULT_CLAIMS = "reference-pump.yaml"  # the reference emulator's own claims
REFERENCES = Path("docs") / "references.md"  # the sources the requirements cite, copied into every run
REPORTS = "reports"


class ProjectError(ValueError):
    pass


_root: Path | None = None


def set_root(path: Path | None) -> None:
    """Fix the project root for this process (`hil --root`); None: find it again ($HIL_ROOT, the current folder)."""
    global _root
    _root = _folder(path, "--root") if path is not None else None


def root() -> Path:
    if _root is not None:
        return _root
    if os.environ.get(ROOT_ENV):
        return _folder(Path(os.environ[ROOT_ENV]), ROOT_ENV)
    here = Path.cwd()
    return next((folder for folder in (here, *here.parents) if (folder / SPECS).is_dir()), here)


def _folder(path: Path, named_by: str) -> Path:
    if not path.is_dir():
        raise ProjectError(f"{named_by}: {path} is not a folder")
    return path.resolve()


def reference(*parts: str) -> Path:
    """A file or folder of the reference data installed with the package (a file system install: not a zip)."""
    return Path(str(importlib.resources.files("hil").joinpath("reference", *parts)))


def shown(path: Path) -> Path:
    """The path as a run's record keeps it: relative to the project root when inside it, else absolute."""
    return _inside(path, root())


def _near(path: Path) -> Path:
    """The path relative to the current folder when inside it (specs, fixtures/rigs/emulator.yaml from the
    checkout's root, as a user types them), else absolute."""
    return _inside(path, Path.cwd())


def _inside(path: Path, folder: Path) -> Path:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(folder)
    except ValueError:
        return absolute


def at_root(path: Path) -> Path:
    """A path as `shown` gives it, made usable again from any current folder."""
    return path if path.is_absolute() else root() / path


def specs() -> Path:
    """The requirement files: the project's specs/, else the reference ones."""
    own = root() / SPECS
    return _near(own) if own.is_dir() else reference("specs")


def claims() -> Path:
    """The pump models' claims files: the project's claims/, else the reference ones."""
    own = root() / CLAIMS
    return _near(own) if own.is_dir() else reference(CLAIMS)


def default_claims() -> Path:
    """The claims requirements are judged against when a rig file names none: the reference pump's (the project's
    copy, else the one installed with the package)."""
    own = claims() / DEFAULT_CLAIMS
    return own if own.is_file() else reference(CLAIMS, DEFAULT_CLAIMS)


def rigs() -> Path:
    """The rig files: the project's fixtures/rigs/, else the reference emulator rigs."""
    own = root() / RIGS
    return _near(own) if own.is_dir() else reference("rigs")


def default_rig() -> Path:
    return rigs() / "emulator.yaml"


def defect_rigs() -> Path:
    return rigs() / "defects"


def references() -> Path:
    """The page the requirement files cite their sources in (REFERENCES): the project's own, else the reference
    one."""
    own = root() / REFERENCES
    return own if own.is_file() else reference(*REFERENCES.parts)


def reports() -> Path:
    return _near(root() / REPORTS)


def safety_suites() -> Path:
    """The safety suites, always the package's own (their real path: pytest names tests relative to its root)."""
    return reference("tests", "safety").resolve()


def suites_rootdir() -> Path:
    """pytest's --rootdir for the suites: test ids read tests/safety/<module>::<test> from the checkout and a wheel."""
    return safety_suites().parent.parent


def suites_ini() -> Path:
    return reference("pytest.ini")
