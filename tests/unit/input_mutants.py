"""Bad-input campaign: mutated copies of the shipped requirement and rig files, each with the outcome it must have.

Every mutant is derived deterministically from specs/*.yaml or fixtures/rigs/*.yaml and written to a folder; a
mutant is either `reject` (the loader must raise its own error, every problem with a real file, a line and a
message) or `accept` (a legitimate edit that must still load). `run_campaign` loads each under a hang guard and
counts the outcomes; tests/unit/test_input_mutants.py asserts on them and benchmarks/bad_input_campaign.py prints
them.
"""

import copy
import math
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from hil.rig.config import RigConfigError, load_rig
from hil.specs import SpecError, load_requirements
from hil.yamlfile import YamlFileError

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
RIGS = sorted((ROOT / "fixtures" / "rigs").glob("*.yaml"))
HANG_S = 30  # a guard against a hang (minutes before the limits), not a performance figure: a load takes < 0.5 s
BAD_NUMBERS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "huge": 1e300, "negative": -1e9}


@dataclass
class Mutant:
    name: str
    expect: str  # "reject" or "accept"
    files: dict[str, str]  # relative path -> text (or bytes for non-text)
    entry: str = "mutant.yaml"
    problem_file: str | None = None  # the file a problem must name, when not the entry (a parent rig)
    whole_file: bool = False  # its problem is the whole file's (too large to read), on no line of it

    def write(self, folder: Path) -> Path:
        for rel, text in self.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return folder / self.entry


@dataclass
class Result:
    mutant: Mutant
    outcome: str  # rejected (located), accepted, unlocated, traceback, hang
    detail: str = ""


@dataclass
class Tally:
    results: list[Result] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(r.outcome for r in self.results)

    def wrong(self) -> list[Result]:
        """Mutants whose outcome is not the one expected of them."""
        good = {"reject": "rejected", "accept": "accepted"}
        return [r for r in self.results if r.outcome != good[r.mutant.expect]]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200)


def _text_mutants(kind: str, base: str) -> Iterator[Mutant]:
    """Mutations no data edit can make: duplicate keys, alias bombs, nesting, size, syntax, encoding."""
    lines = base.splitlines()
    second = next(i for i, line in enumerate(lines) if line and not line.startswith(("#", " ")) and i > 2)
    yield Mutant(f"{kind}: duplicate top-level key", "reject", {"mutant.yaml": "\n".join(lines[:second + 1] + lines[second:]) + "\n"})
    bomb = ["bomb0: &b0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"bomb{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, 10)]
    yield Mutant(f"{kind}: alias bomb 9x9", "reject", {"mutant.yaml": "\n".join(bomb) + "\n" + base})
    yield Mutant(f"{kind}: nested 5000 deep", "reject", {"mutant.yaml": base + "deep: " + "[" * 5000 + "]" * 5000 + "\n"})
    yield Mutant(f"{kind}: nested 5000 deep mappings", "reject",
                 {"mutant.yaml": base + "deep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"})
    yield Mutant(f"{kind}: 10 MB", "reject", {"mutant.yaml": base + ("# " + "x" * 98 + "\n") * 100_000}, whole_file=True)
    yield Mutant(f"{kind}: unclosed flow list", "reject", {"mutant.yaml": base + "extra: [1, 2\n"})
    yield Mutant(f"{kind}: not UTF-8", "reject", {"mutant.yaml": base.encode() + b"# \xff\xfe\n"})
    yield Mutant(f"{kind}: control character", "reject", {"mutant.yaml": base + "# \x07\n"})
    yield Mutant(f"{kind}: empty file", "reject", {"mutant.yaml": ""})
    yield Mutant(f"{kind}: a list, not a mapping", "reject", {"mutant.yaml": "- 1\n- 2\n"})
    yield Mutant(f"{kind}: python tag", "reject", {"mutant.yaml": base + "x: !!python/object/apply:os.system ['true']\n"})
    yield Mutant(f"{kind}: a comment added", "accept", {"mutant.yaml": "# reviewed\n" + base})


def _edit(base: dict, edit: Callable[[dict], None]) -> str:
    data = copy.deepcopy(base)
    edit(data)
    return _dump(data)


# ---- requirement files ----

def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    """Set a value, making the mappings on its way (a child rig overriding one key of its parent's section)."""
    def edit(data: dict) -> None:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
        node[path[-1]] = value
    return edit


def _delete(path: tuple) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return edit


def spec_mutants() -> Iterator[Mutant]:
    for spec in SPECS:
        text = spec.read_text()
        base = yaml.safe_load(text)
        tag = spec.stem
        for mutant in _text_mutants(f"spec {tag}", text):
            yield mutant
        for label, value in BAD_NUMBERS.items():
            yield Mutant(f"spec {tag}: min_tur {label}", "reject", {"mutant.yaml": _edit(base, _set(("min_tur",), value))})
        yield Mutant(f"spec {tag}: min_tur 3", "accept", {"mutant.yaml": _edit(base, _set(("min_tur",), 3))})
        yield Mutant(f"spec {tag}: no area", "reject", {"mutant.yaml": _edit(base, _delete(("area",)))})
        yield Mutant(f"spec {tag}: unknown top-level key", "reject", {"mutant.yaml": _edit(base, _set(("owner",), "x"))})
        for r_index, requirement in enumerate(base["requirements"][:3]):
            yield from _requirement_mutants(base, tag, r_index, requirement)


def _requirement_mutants(base: dict, tag: str, r: int, requirement: dict) -> Iterator[Mutant]:
    rid = requirement["id"]
    bound = ("requirements", r, "acceptance", 0)
    limit = "max" if "max" in requirement["acceptance"][0] else "min"

    def spec(name: str, expect: str, edit: Callable[[dict], None]) -> Mutant:
        return Mutant(f"spec {tag} {rid}: {name}", expect, {"mutant.yaml": _edit(base, edit)})

    for label, value in BAD_NUMBERS.items():
        yield spec(f"bound {limit} {label}", "reject", _set(bound + (limit,), value))
    yield spec(f"bound {limit} a string", "reject", _set(bound + (limit,), "five"))
    yield spec(f"bound {limit} a bool", "reject", _set(bound + (limit,), True))
    yield spec("bound without min or max", "reject", lambda d: [d["requirements"][r]["acceptance"][0].pop(k, None) for k in ("min", "max")])
    yield spec("bound in a wrong unit", "reject", _set(bound + ("unit",), "mL"))
    yield spec("bound min above max", "reject", lambda d: d["requirements"][r]["acceptance"][0].update(min=2e3, max=1e3))
    yield spec("bound with an unknown key", "reject", _set(bound + ("tolerance",), 1))
    yield spec("unknown method", "reject", _set(("requirements", r, "method"), "eyeball"))
    yield spec("unknown severity", "reject", _set(("requirements", r, "severity"), "fatal"))
    yield spec("lower-case id", "reject", _set(("requirements", r, "id"), rid.lower()))
    yield spec("no cases", "reject", _set(("requirements", r, "cases"), []))
    yield spec("title reworded", "accept", _set(("requirements", r, "title"), requirement["title"] + " (reviewed)"))
    yield spec("duplicate id", "reject", lambda d: d["requirements"].append(copy.deepcopy(d["requirements"][r])))
    case = requirement["cases"][0]
    optional = {"escalation_watch_min"}
    for key in case:
        yield spec(f"case without {key}", "accept" if key in optional else "reject", _delete(("requirements", r, "cases", 0, key)))
    number = next(k for k, v in case.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    for label, value in BAD_NUMBERS.items():
        yield spec(f"case {number} {label}", "reject", _set(("requirements", r, "cases", 0, number), value))
    yield spec(f"case {number} a string", "reject", _set(("requirements", r, "cases", 0, number), "1"))
    yield spec("case with a key its method does not read", "reject", _set(("requirements", r, "cases", 0, "colour"), "red"))


# ---- rig files ----

def _leaves(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, path + (key,))
    else:
        yield path, data


def rig_mutants() -> Iterator[Mutant]:
    """Mutants of each shipped rig, written beside copies of the others (so its `extends:` resolves)."""
    siblings = {rig.name: rig.read_text() for rig in RIGS}
    for rig in RIGS:
        text = siblings[rig.name]
        base = yaml.safe_load(text)
        tag = rig.stem

        def mutant(name: str, expect: str, edit: Callable[[dict], None]) -> Mutant:
            return Mutant(f"rig {tag}: {name}", expect, {**siblings, rig.name: _edit(base, edit)}, rig.name)

        for plain in _text_mutants(f"rig {tag}", text):
            yield Mutant(plain.name, plain.expect, {**siblings, rig.name: plain.files["mutant.yaml"]}, rig.name,
                         whole_file=plain.whole_file)
        for path, value in _leaves(base):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                where = ".".join(path)
                for label, bad in BAD_NUMBERS.items():
                    yield mutant(f"{where} {label}", "reject", _set(path, bad))
                yield mutant(f"{where} a string", "reject", _set(path, "2"))
        required = ("rig_id", "clock", "pump", "scale", "environment", "evaporation_correction", "infusion_set")
        for key in required if "extends" not in base else ():  # a child's parent may provide them
            yield mutant(f"without {key}", "reject", _delete((key,)))
        for key in ("description", "operator", "insulin", "actuators", "lost_scale"):
            # a child that moves a parent's device to another port: without that override, the parent's port is
            # back (on a labgrid rig, an @emulator: one the place's emulator does not have; its own mutant below)
            if key in base and not ("extends" in base and "port" in (base[key] or {})):
                yield mutant(f"without {key}", "accept", _delete((key,)))
        if "labgrid" in base:
            yield from _lab_mutants(base, mutant)
        yield mutant("unknown key", "reject", _set(("colour",), "red"))
        yield mutant("unknown scale key", "reject", _set(("scale", "colour"), "red"))
        for rig_id in ("../../../../x", "/etc/passwd", "a/b", "", ".hidden", "x" * 65, "ok\n"):
            yield mutant(f"rig_id {rig_id!r}", "reject", _set(("rig_id",), rig_id))
        yield mutant("rig_id bench-2.A_1", "accept", _set(("rig_id",), "bench-2.A_1"))
        yield mutant("temperature -300 °C", "reject", _set(("environment", "temperature_C"), -300))
        yield mutant("humidity 101 %", "reject", _set(("environment", "humidity_pct"), 101))
        yield mutant("pressure 0 hPa", "reject", _set(("environment", "pressure_hPa"), 0))
        yield mutant("temperature 23 °C", "accept", _set(("environment", "temperature_C"), 23))
        yield mutant("clock real with emulator ports", "reject", _set(("clock",), "real"))
        yield mutant("clock sundial", "reject", _set(("clock",), "sundial"))
        if "port" in base.get("pump", {}):
            yield from _serial_mutants(base, mutant)
        yield from _emulator_mutants(base, mutant)
    yield from _extends_mutants()


def _lab_mutants(base: dict, mutant: Callable) -> Iterator[Mutant]:
    """A rig on a labgrid place (docs/lab.md): its section and its `@labgrid:` ports."""
    if "pump" in base:  # the rig that moves the devices onto the place (not a child naming another place)
        yield mutant("without labgrid", "reject", _delete(("labgrid",)))  # its @labgrid: ports then have no place
        yield mutant("lost_scale back on the emulator's own pty", "reject", _delete(("lost_scale",)))
    yield mutant("labgrid coordinator without a port", "reject", _set(("labgrid", "coordinator"), "lab.example"))
    yield mutant("labgrid place with a space", "reject", _set(("labgrid", "place"), "bench a"))
    yield mutant("labgrid unknown key", "reject", _set(("labgrid", "colour"), "red"))
    yield mutant("labgrid place bench-7", "accept", _set(("labgrid", "place"), "bench-7"))
    yield mutant("labgrid coordinator lab.example:20408", "accept", _set(("labgrid", "coordinator"), "lab.example:20408"))


def _serial_mutants(base: dict, mutant: Callable) -> Iterator[Mutant]:
    for name in ("nope", "", "PUMP", "control/../pump"):
        yield mutant(f"pump port @emulator:{name}", "reject", _set(("pump", "port"), f"@emulator:{name}"))
    yield mutant("pump on the balance's port", "reject", _set(("pump", "port"), base["scale"].get("port", "@emulator:balance")))
    if "lost_scale" in base and "port" in base["scale"]:
        yield mutant("lost_scale on the scale's port", "reject", _set(("lost_scale", "port"), base["scale"]["port"]))
    for label, baud in (("1e10 float", 1e10), ("1e10", 10**10), ("0", 0), ("true", True), ("9600.0", 9600.0)):
        yield mutant(f"pump baudrate {label}", "reject", _set(("pump", "baudrate"), baud))
    yield mutant("pump baudrate 115200", "accept", _set(("pump", "baudrate"), 115200))
    for label, timeout in (("0", 0), ("1e9", 1e9), ("-1", -1)):
        yield mutant(f"pump timeout_s {label}", "reject", _set(("pump", "timeout_s"), timeout))
    yield mutant("pump timeout_s 5 (an int)", "accept", _set(("pump", "timeout_s"), 5))
    yield mutant("serial pump without port", "reject", _delete(("pump", "port")))


def _emulator_mutants(base: dict, mutant: Callable) -> Iterator[Mutant]:
    def option(path: tuple, value: Any) -> Callable[[dict], None]:
        def edit(data: dict) -> None:
            node = data.setdefault("emulator", {})
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = value
        return edit

    cases = [
        (("vessel", "oil_layer"), "no", "reject"), (("vessel", "oil_layer"), "yes (a string)", "reject"),
        (("vessel", "oil_layer"), 0, "reject"), (("vessel", "oil_layer"), False, "accept"),
        (("defects", "occlusion_alarm_priority"), "HIHG", "reject"), (("defects", "occlusion_alarm_priority"), "high", "reject"),
        (("defects", "occlusion_alarm_priority"), "MEDIUM", "accept"), (("pump", "site_alarm_priority"), "", "reject"),
        (("defects", "stroke_volume_bias"), math.nan, "reject"), (("defects", "stroke_volume_bias"), -1.0, "reject"),
        (("defects", "stroke_volume_bias"), 0.08, "accept"), (("defects", "bolus_missing_last_strokes"), 1.5, "reject"),
        (("defects", "no_such_defect"), True, "reject"), (("pump", "stroke_U"), 0, "reject"),
        (("pump", "stroke_U"), 0.025, "accept"), (("pump", "site_check"), "false", "reject"),
        (("balance", "readability_mg"), math.inf, "reject"), (("balance", "readability_mg"), 0.1, "accept"),
        (("seed",), -1, "reject"), (("seed",), "1", "reject"), (("seed",), 7, "accept"), (("colour",), "red", "reject"),
        (("lost_balance", "serial"), "B2", "accept"), (("fluid_path", "compliance_uL_per_kPa"), -0.25, "reject"),
    ]
    for path, value, expect in cases:
        yield mutant(f"emulator.{'.'.join(path)} {value!r}", expect, option(path, value))
    yield mutant("emulator section a list", "reject", _set(("emulator",), [1]))


def _extends_mutants() -> Iterator[Mutant]:
    nominal = (ROOT / "fixtures" / "rigs" / "emulator.yaml").read_text()
    defect = (ROOT / "fixtures" / "rigs" / "defects" / "stroke-volume-plus-8pct.yaml").read_text()
    files = {"emulator.yaml": nominal, "defects/mutant.yaml": defect}
    yield Mutant("rig extends: the shipped defect rig", "accept", files, "defects/mutant.yaml")
    yield Mutant("rig extends: readability NaN in the child", "reject",
                 {**files, "defects/mutant.yaml": defect + "scale: {readability_mg: .nan}\n"}, "defects/mutant.yaml")
    yield Mutant("rig extends: u_rate NaN in the child", "reject",
                 {**files, "defects/mutant.yaml": defect + "evaporation_correction: {u_rate_mg_per_h: .nan}\n"}, "defects/mutant.yaml")
    yield Mutant("rig extends: bad humidity in the parent", "reject",
                 {**files, "emulator.yaml": nominal.replace("humidity_pct: 65.0", "humidity_pct: 650")},
                 "defects/mutant.yaml", problem_file="emulator.yaml")
    yield Mutant("rig extends: duplicate key in the parent", "reject",
                 {**files, "emulator.yaml": nominal.replace("clock: sim", "clock: sim\nclock: sim")},
                 "defects/mutant.yaml", problem_file="emulator.yaml")
    yield Mutant("rig extends: missing parent", "reject", {"mutant.yaml": "extends: nowhere.yaml\nrig_id: x\n"})
    yield Mutant("rig extends: not a path", "reject", {"mutant.yaml": "extends: [a]\nrig_id: x\n"})
    yield Mutant("rig extends: a cycle", "reject", {"mutant.yaml": "extends: b.yaml\n", "b.yaml": "extends: mutant.yaml\n"})
    yield Mutant("rig extends: itself", "reject", {"mutant.yaml": "extends: mutant.yaml\n"})
    for depth, expect in ((4, "accept"), (7, "accept"), (8, "reject"), (200, "reject")):  # MAX_EXTENDS is 8
        chain = {f"r{i}.yaml": f"extends: r{i + 1}.yaml\n" for i in range(depth)}
        chain[f"r{depth}.yaml"] = nominal
        chain["mutant.yaml"] = "extends: r0.yaml\nrig_id: chained\n" if depth else nominal
        yield Mutant(f"rig extends: a chain of {depth + 1} parents", expect, chain)


# ---- the campaign ----

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def load(mutant: Mutant, folder: Path) -> Result:
    """Load one mutant under the hang guard and classify what happened."""
    entry = mutant.write(folder)
    loader: Callable[[Path], Any] = load_rig if mutant.name.startswith("rig") else (lambda p: load_requirements([p]))
    previous = signal.signal(signal.SIGALRM, _alarm)
    outer_s, _ = signal.setitimer(signal.ITIMER_REAL, HANG_S)  # pytest-timeout's own timer, given back after
    started = time.monotonic()
    try:
        loader(entry)
        return Result(mutant, "accepted")
    except (SpecError, RigConfigError) as exc:
        return Result(mutant, *_located(exc, folder, mutant))
    except _Hang:
        return Result(mutant, "hang", f"no answer in {HANG_S} s")
    except Exception as exc:  # noqa: BLE001 - any other exception is what the campaign counts
        return Result(mutant, "traceback", f"{type(exc).__name__}: {exc}"[:300])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_s:
            signal.setitimer(signal.ITIMER_REAL, max(outer_s - (time.monotonic() - started), 1e-3))


def _located(exc: YamlFileError, folder: Path, mutant: Mutant) -> tuple[str, str]:
    """rejected when every problem names a file of the mutant, a line inside it (none for a whole file's problem)
    and a message."""
    text = str(exc)
    if not exc.problems:
        return "unlocated", "no problems listed"
    for problem in exc.problems:
        path = Path(problem.file)
        if not path.is_file() or folder.resolve() not in path.resolve().parents:
            return "unlocated", f"problem names {problem.file}: {text}"
        lines = path.read_bytes().count(b"\n") + 1
        located = problem.line is None if mutant.whole_file else problem.line is not None and 1 <= problem.line <= lines
        if not located or not problem.message:
            return "unlocated", f"line {problem.line} / message {problem.message!r}: {text}"
    if mutant.problem_file and not any(Path(p.file).name == mutant.problem_file for p in exc.problems):
        return "unlocated", f"expected a problem in {mutant.problem_file}: {text}"
    return "rejected", text.splitlines()[0]


def run_campaign(kind: str, folder: Path) -> Tally:
    """Load every mutant of one kind ("spec" or "rig"), each in its own sub-folder."""
    mutants = spec_mutants() if kind == "spec" else rig_mutants()
    tally = Tally()
    for number, mutant in enumerate(mutants):
        sub = folder / f"{kind}-{number:04d}"
        sub.mkdir(parents=True)
        tally.results.append(load(mutant, sub))
    return tally


def table(tallies: dict[str, Tally]) -> str:
    """The closing note's figures, one row per kind."""
    head = f"{'':6} {'tried':>6} {'rejected (located)':>19} {'valid, accepted':>16} {'wrong outcome':>14} {'tracebacks':>11} {'hangs':>6}"
    rows = [head]
    for kind, tally in tallies.items():
        counts = tally.counts()
        rows.append(f"{kind:6} {len(tally.results):>6} {counts['rejected']:>19} {counts['accepted']:>16} "
                    f"{len(tally.wrong()):>14} {counts['traceback']:>11} {counts['hang']:>6}")
    return "\n".join(rows)
