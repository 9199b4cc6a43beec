"""The pytest side of the suite: options, the requirement marker, rig/requirement/evidence fixtures,
requirement binding checks, rig-broken handling and the run record.

Registered through the `pytest11` entry point, so plain `pytest --rig FILE` runs the safety suites too.
"""

import atexit
import contextlib
import functools
import gc
import json
import logging
import signal
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import allure
import pytest
from allure_commons.model2 import Status as AllureStatus
from allure_commons.model2 import StatusDetails

from hil import project, run_log
from hil.drivers import registry
from hil.drivers.contracts import Capability, DoseLimits
from hil.errors import RigError, StartingStateError
from hil.evidence.per_test import Inconclusive, TestEvidence, safe_name
from hil.evidence.progress import Progress
from hil.evidence.progress_display import ProgressDisplay
from hil.evidence.run import REQUIREMENT_COPIES, TEST_LABEL, RunRecorder, new_run_dir, rig_times
from hil.evidence.verdict import FailureClass, Judgement, Verdict, classify, exception_for, judge
from hil.procedures import pump_clock, starting_state
from hil.procedures.scenario_files import scenario_problems
from hil.rig import abort
from hil.rig.config import RigConfigError, load_rig
from hil.rig.rig import Rig
from hil.run_log import narrative
from hil.specs import SpecError, load_requirements
from hil.specs.claims import Claims, ClaimsError, load_claims
from hil.specs.metrics import METRICS

log = logging.getLogger(__name__)
_STATE = pytest.StashKey["HilState"]()
_EVIDENCE = pytest.StashKey[TestEvidence]()
_PHASES = pytest.StashKey[dict]()  # phase ("setup", "call", "teardown") → (report, exception or None)
_BROKEN_SKIP = pytest.StashKey[bool]()  # skipped because an earlier fault broke the rig


def pytest_addoption(parser):
    group = parser.getgroup("hil", "insulin-pump HIL verification")
    group.addoption(
        "--rig",
        default=None,
        type=Path,
        help="rig file (default: the project's fixtures/rigs/emulator.yaml, else the reference emulator rig)",
    )
    group.addoption(
        "--specs",
        default=None,
        type=Path,
        help="requirement file or directory (default: the project's specs/, else the reference requirements)",
    )
    group.addoption("--hil-run-dir", default=None, help="run folder for evidence (default: a new reports/runs/<id>)")
    group.addoption(
        "--hil-resume",
        action="store_true",
        default=False,
        help="continue the run already in --hil-run-dir in a new session (hil verify --resume)",
    )
    group.addoption(
        "--hil-no-figures",
        action="store_true",
        default=False,
        help="draw no figures: measurements, verdicts and raw data as always (hil verify --no-figures)",
    )
    group.addoption("--hil-trace", default=None, help="write the test → requirement map as JSON to this file")
    group.addoption(
        "--hil-needs",
        default=None,
        help="with --hil-trace: write the test → pump capabilities it needs (and what needs each) as JSON",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(id): binds a safety test to a requirement id in specs/")
    config.addinivalue_line("markers", "requirements(*ids): runs the test once per requirement id, each bound to it")
    config.addinivalue_line(
        "markers",
        "needs(*capabilities): the pump capabilities (hil.drivers.contracts.Capability) "
        "the test uses; skipped, with the reason, on a rig whose pump driver lacks one",
    )
    # pyserial 3.5's RFC 2217 client names its reader thread with the pre-3.10 API (fixed upstream, not released)
    config.addinivalue_line("filterwarnings", "ignore:setDaemon\\(\\) is deprecated:DeprecationWarning:serial.rfc2217")
    config.addinivalue_line("filterwarnings", "ignore:setName\\(\\) is deprecated:DeprecationWarning:serial.rfc2217")
    try:
        config.option.rig = config.getoption("rig") or project.default_rig()
        config.option.specs = config.getoption("specs") or project.specs()
    except project.ProjectError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE] = HilState(config)


def pytest_unconfigure(config):
    abort.signals.uninstall()
    state: HilState = config.stash[_STATE]
    if state.stop_run_log is not None:
        state.stop_run_log()


class HilState:
    def __init__(self, config):
        self.config = config
        self._requirements = None
        self.rig: Rig | None = None
        self.broken: str | None = None
        self.run: RunRecorder | None = None
        self.running = None  # the test item between the start of its setup and the end of its teardown
        self.interrupted: dict | None = None  # {"signal": name, "test": node id or None}
        self.judged: dict[str, Judgement] = {}  # node id → verdict, for the console summary
        self.deselected: list = []  # items -k (or another plugin) took out of this session
        self.safety_session = False  # this session runs requirement-bound tests
        self.stop_run_log = None  # ends run.log (hil.run_log), once the run folder exists
        self.progress: Progress | None = None  # the campaign in rig time, shown by `display`
        self.display: ProgressDisplay | None = None

    @property
    def requirements(self):
        if self._requirements is None:
            self._requirements = load_requirements([self.config.getoption("specs")], self.claims)
        return self._requirements

    @functools.cached_property
    def claims(self) -> Claims:
        """The claims of the pump under test, from the file the rig file names (a rig file that cannot be read
        stops the run at setup, whatever the requirements say)."""
        try:
            file = load_rig(self.config.getoption("rig")).claims
        except RigConfigError:
            file = project.default_claims()
        try:
            return load_claims(file)
        except ClaimsError as exc:
            raise pytest.UsageError(f"the claims file is invalid:\n{exc}") from None

    @functools.cached_property
    def widest_limits(self) -> DoseLimits | None:
        """The dose limits every test starts from: the largest bolus and basal rate the pump claims (None where it
        does not claim both: a pump with dose limits then keeps the ones it has)."""
        bolus, basal = self.claims.get("bolus_max_U"), self.claims.get("basal_rate_max_U_per_h")
        if bolus is None or basal is None or bolus.value is None or basal.value is None:
            return None
        return DoseLimits(bolus.value, basal.value)

    def run_recorder(self) -> RunRecorder:
        if self.run is None:
            option = self.config.getoption("hil_run_dir")
            directory = Path(option) if option else new_run_dir(project.reports(), self.config.getoption("rig").stem)
            self.run = RunRecorder(
                directory,
                self.requirements,
                resume=self.config.getoption("hil_resume"),
                claims=self.claims,
                figures=not self.config.getoption("hil_no_figures"),
            )
            self.stop_run_log = run_log.attach(
                directory / "run.log", lambda: self.rig.clock.now() if self.rig is not None else None
            )
            narrative.info(
                "run %s: rig file %s, requirement files %s",
                directory.name,
                self.config.getoption("rig"),
                self.config.getoption("specs"),
            )
        return self.run

    def open_rig(self) -> Rig:
        if self.rig is None:
            try:
                config = load_rig(self.config.getoption("rig"))
                self.run_recorder().set_rig(config)
                rig = Rig(config)
                rig.__enter__()
            except (RigError, RigConfigError) as exc:
                self.broken = f"cannot open rig: {exc}"
                raise RigError(self.broken) from None
            self.rig = rig
            rig.clock.on_tick.append(self.show_progress)
            atexit.register(self.close_rig, "interpreter exit")
            self.run_recorder().set_identities(rig.identities, rig.driver_provenance())
            if rig.acquisition is not None:
                self.run_recorder().set_place(rig.acquisition)
        return self.rig

    def show_progress(self) -> None:
        if self.display is None or self.progress is None or self.rig is None or self.progress.current is None:
            return
        evidence = self.running.stash.get(_EVIDENCE, None) if self.running is not None else None
        progress, clock = self.progress, self.rig.clock
        self.display.tick(lambda: progress.line(clock.now(), evidence.latest() if evidence else None))

    def close_rig(self, reason: str) -> None:
        if self.rig is not None:
            rig, self.rig = self.rig, None
            with abort.signals.shielded(raise_held=False):  # the record must still be finished after it
                action = rig.close(reason)
                if self.run:
                    self.run.add_safety(action)


def pytest_generate_tests(metafunc):
    """A test marked `requirements(id, ...)` runs once per id (`test_x[<id>]`), each run bound to its requirement
    by a `requirement(id)` marker, which the `requirement` fixture turns into the Requirement."""
    mark = metafunc.definition.get_closest_marker("requirements")
    if mark is None:
        return
    if "requirement" not in metafunc.fixturenames:
        pytest.fail(
            f"{metafunc.definition.nodeid}: a test marked requirements(...) takes the 'requirement' fixture",
            pytrace=False,
        )
    metafunc.parametrize(
        "requirement",
        [pytest.param(rid, marks=pytest.mark.requirement(rid), id=rid) for rid in mark.args],
        indirect=True,
    )


def _requirement_ids(item) -> list[str]:
    return [mark.args[0] for mark in item.iter_markers("requirement") if mark.args]


def pytest_collection_modifyitems(session, config, items):
    state: HilState = config.stash[_STATE]
    bound = [item for item in items if _requirement_ids(item)]
    if config.getoption("hil_trace"):  # `hil trace` judges the map itself, unknown ids included
        return
    if not bound:
        return
    try:
        known = state.requirements
    except SpecError as exc:
        raise pytest.UsageError(f"requirement files are invalid:\n{exc}") from None
    unknown = [(item.nodeid, rid) for item in bound for rid in _requirement_ids(item) if rid not in known]
    if unknown:
        raise pytest.UsageError(
            "tests name unknown requirement ids:\n" + "\n".join(f"  {node}: {rid}" for node, rid in unknown)
        )
    for item in bound:  # skipped before any fixture: no rig time, no starting state for a test that cannot count
        reasons = [known[rid].not_applicable for rid in _requirement_ids(item) if known[rid].not_applicable]
        if reasons:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {'; '.join(reasons)}"))
    applicable = sorted({rid for item in bound for rid in _requirement_ids(item) if not known[rid].not_applicable})
    bad = scenario_problems(known[rid] for rid in applicable)
    if bad:
        raise pytest.UsageError("scenario files the requirements name are unusable:\n" + "\n".join(bad))


def pytest_deselected(items):
    if items:
        items[0].config.stash[_STATE].deselected.extend(items)


def pytest_collection_finish(session):
    """After every plugin's deselection (-k, --lf): the run records what this session will run, and a
    session that drives the rig takes over the abort signals (SIGINT, SIGTERM, SIGHUP)."""
    config = session.config
    bound = [item for item in session.items if _requirement_ids(item)]
    trace_file = config.getoption("hil_trace")
    if trace_file:  # after -k: the map of what a session with the same options would run
        Path(trace_file).write_text(json.dumps({item.nodeid: _requirement_ids(item) for item in bound}, indent=1))
        if config.getoption("hil_needs"):
            needs = {item.nodeid: _needs(item, config.stash[_STATE]) for item in bound}
            Path(config.getoption("hil_needs")).write_text(json.dumps(needs, indent=1))
    if not bound or trace_file or config.option.collectonly:
        return
    state: HilState = config.stash[_STATE]
    state.safety_session = True
    # What the imports and the collection made lives as long as the run: the garbage collector's full passes (its
    # own as the run allocates, pytest's at its end) leave it alone from here (half a second of every campaign). What
    # of it is already garbage in a cycle stays in memory: collecting it first would cost the pass saved.
    gc.freeze()
    abort.signals.install()
    if config.getoption("hil_run_dir"):  # a run (hil verify): its record lists what this session selected
        collected = [item for item in session.items + state.deselected if _requirement_ids(item)]
        state.run_recorder().set_selected(
            {item.nodeid: _requirement_ids(item) for item in bound},
            {item.nodeid: _requirement_ids(item) for item in collected},
            {"-k": config.option.keyword or None, "-m": config.option.markexpr or None},
        )
        nodes = [item.nodeid for item in bound]
        timed = rig_times(state.run_recorder().directory.parent, nodes)
        state.progress = Progress(nodes, {node: seconds for node, (seconds, _) in timed.items()})
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            drivers: Iterable[type[registry.DriverClass]]
            try:  # operator prompts write to the terminal mid-test: no line kept in place then
                drivers = load_rig(config.getoption("rig")).drivers().values()
            except RigConfigError:  # said when the rig opens
                drivers = []
            prompts = any(registry.prompts_operator(cls) for cls in drivers)
            capture = config.pluginmanager.getplugin("capturemanager")
            state.display = ProgressDisplay(
                reporter,
                live=reporter._tw.hasmarkup and not prompts,
                uncaptured=capture.global_and_fixture_disabled if capture else contextlib.nullcontext,
            )


@pytest.fixture
def requirement(request):
    """The Requirement the test is bound to by its marker; also labels the Allure result."""
    state: HilState = request.config.stash[_STATE]
    ids = _requirement_ids(request.node)
    if len(ids) != 1:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the 'requirement' fixture needs exactly one requirement marker"
        )
    req = state.requirements[ids[0]]
    allure.dynamic.epic(req.area)
    allure.dynamic.story(req.id)
    allure.dynamic.severity(allure.severity_level(req.severity))
    # the run folder keeps the requirement files it ran (requirements/), beside report/: a link that opens there
    allure.dynamic.link(
        f"../{REQUIREMENT_COPIES}/{req.file.name}", link_type="requirement", name=f"{req.file.name}, line {req.line}"
    )
    allure.attach(req.as_text(), name=f"requirement {req.id}", attachment_type=allure.attachment_type.TEXT)
    return req


@pytest.fixture(scope="session")
def _hil_rig_lifetime(request):
    """Closes the rig after the last test's own teardown: pytest tears session fixtures down last, also when
    a signal or Ctrl-C ends the session, so the interrupted test's STOP goes out before any link closes."""
    state: HilState = request.config.stash[_STATE]
    yield
    state.close_rig("end of session")


@pytest.fixture
def rig(request, evidence, _hil_rig_lifetime):
    """The rig, put in its starting state for this test, its links' traffic logged into the test's evidence;
    the pump is commanded to stop when the test ends, however it ends."""
    state: HilState = request.config.stash[_STATE]
    if state.broken:
        request.node.stash[_BROKEN_SKIP] = True
        pytest.skip(f"rig broken: {state.broken}")
    the_rig = state.open_rig()
    allure.dynamic.parameter("rig", the_rig.config.rig_id)
    missing = {
        capability: why
        for capability, why in _needs(request.node, state).items()
        if capability not in the_rig.capabilities()
    }
    if missing:
        pytest.skip(
            f"rig {the_rig.config.rig_id}: pump driver '{the_rig.config.driver_name(('pump',))}' does not "
            "declare " + "; ".join(f"{capability} (needed by {why})" for capability, why in missing.items())
        )
    wire_logs = the_rig.start_wire_log(evidence.directory)
    try:
        the_rig.begin_test(request.node.nodeid)
        starting_state.establish(
            the_rig.pump, the_rig.capabilities(), _reservoir_need(request.node, state, the_rig), state.widest_limits
        )
        clock_at_start = pump_clock.read(the_rig)
    except RigError as exc:
        state.broken = str(exc)
        raise
    yield the_rig
    with abort.signals.shielded():
        action = the_rig.make_safe(f"end of {request.node.nodeid}")
        state.run_recorder().add_safety(action, request.node.nodeid)
        if action.ok:
            _acknowledge_left_alarms(the_rig, request.node.nodeid)
        the_rig.stop_wire_log()
        for path in wire_logs:
            if path.exists():
                evidence.attach_file(path, f"wire log {path.name}")
        if not action.ok:
            state.broken = f"pump did not acknowledge STOP: {action.detail}"
        try:
            the_rig.pump.check_link()  # a line lost or repeated since the test's last pump request: a rig fault
            pump_clock.check(the_rig, clock_at_start)  # a pump on a time of its own: every duration measured is void
        except RigError as exc:
            if abort.signals.received is None:
                raise
            # torn down by pytest's session end after a signal: raising would end pytest with a traceback
            # before the record is finished; the interrupted test is never a PASS anyway
            narrative.warning("after %s, the pump link: %s", abort.signals.received.name, exc)


def _acknowledge_left_alarms(the_rig: Rig, nodeid: str) -> None:
    """Every test acknowledges what it raised before it ends: the alarms still active after its STOP. One that cannot
    be is logged here; the next test's starting state then ends as the rig's ERROR, naming it."""
    try:
        left = starting_state.acknowledge_alarms(the_rig.pump)
    except StartingStateError as exc:  # any other rig fault (a lost event, a dead link) ends this test as the rig's
        narrative.warning("end of %s: %s", nodeid, exc)
        return
    if left:
        narrative.info("end of %s: acknowledged alarm(s) %s", nodeid, ", ".join(left))


def _reservoir_need(item, state: HilState, the_rig: Rig) -> starting_state.ReservoirNeed | None:
    """What the test takes from the pump's reservoir: the largest need of its requirements' cases; None for a test
    bound to no requirement."""
    needs = [
        starting_state.reservoir_need(
            case.given(), the_rig.config.infusion_set, the_rig.config.section("pump").get("min_reservoir_U")
        )
        for rid in _requirement_ids(item)
        if rid in state.requirements
        for case in state.requirements[rid].cases
    ]
    return max(needs, key=lambda need: need.amount_U, default=None)


def _needs(item, state: HilState) -> dict[Capability, str]:
    """The pump capabilities a test needs → what needs each: its `needs` markers, and the metrics its requirements
    bound (hil.specs.metrics)."""
    needs: dict[Capability, str] = {}
    for mark in item.iter_markers("needs"):
        for capability in mark.args:
            needs.setdefault(Capability(capability), "the test")
    for rid in _requirement_ids(item):
        for bound in state.requirements[rid].acceptance if rid in state.requirements else ():
            for capability in METRICS[bound.metric].needs:
                needs.setdefault(capability, f"{rid}'s metric {bound.metric}")
    return needs


@pytest.fixture
def occlusion_valve(rig: Rig):
    """The rig's occlusion valve; the test is skipped, with the reason, on a rig without one."""
    if rig.occlusion_valve is None:
        pytest.skip(f"rig {rig.config.rig_id} has no occlusion valve (actuators.occlusion_valve)")
    return rig.occlusion_valve


@pytest.fixture
def site_faults(rig: Rig):
    """The rig's insertion-site fault fixtures; the test is skipped, with the reason, on a rig without them."""
    if rig.site_faults is None:
        pytest.skip(f"rig {rig.config.rig_id} has no site-fault fixtures (actuators.site_faults)")
    return rig.site_faults


@pytest.fixture
def reservoir_change(rig: Rig):
    """The rig's reservoir fixture; the test is skipped, with the reason, on a rig without one."""
    if rig.reservoir is None:
        pytest.skip(f"rig {rig.config.rig_id} has no reservoir fixture (actuators.reservoir)")
    return rig.reservoir


@pytest.fixture
def evidence(request):
    state: HilState = request.config.stash[_STATE]
    run = state.run_recorder()
    ev = TestEvidence(
        run.directory / "tests" / safe_name(request.node.nodeid), figures=not request.config.getoption("hil_no_figures")
    )
    request.node.stash[_EVIDENCE] = ev
    yield ev
    ev.close()
    run.add_evidence(request.node.nodeid, _requirement_ids(request.node), ev)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item):
    """Title and description from the requirement; set here, inside allure-pytest's own call hook, which
    would otherwise overwrite them with the function name and docstring. A bound test that returns without
    a PASS verdict (a bound not measured, a measurement failed that it did not assert) fails here, so pytest,
    Allure and the record agree."""
    ids = _requirement_ids(item)
    state: HilState = item.config.stash[_STATE]
    if len(ids) == 1:
        req = state.requirements[ids[0]]
        rehearsal = state.rig is not None and state.rig.config.rehearsal
        allure.dynamic.title(("REHEARSAL, not evidence · " if rehearsal else "") + f"{req.id}: {req.title}")
        allure.dynamic.description(f"{req.statement}\n\nHazard: {req.hazard}\n\nSource: {req.source}")
    started = state.rig.clock.now() if state.rig is not None else None
    if ids and started is not None and state.progress is not None:
        state.progress.begin(item.nodeid, ", ".join(ids), started)
    outcome = yield
    if state.display is not None:
        state.display.clear()  # before pytest writes the test's result
    if state.progress is not None and state.rig is not None:
        state.progress.end(state.rig.clock.now())
    interrupted = outcome.excinfo is not None and issubclass(outcome.excinfo[0], KeyboardInterrupt)
    if ids and started is not None and state.rig is not None and state.run is not None and not interrupted:
        state.run.set_rig_time(item.nodeid, ids, state.rig.clock.now() - started)  # what the whole test takes
    if ids and outcome.excinfo is None:
        judgement = _judgement(item, ran_to_end=True)
        if judgement.verdict != Verdict.PASS:
            outcome.force_exception(exception_for(judgement))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A signal during a test's teardown (its STOP, its evidence, the rig's close after the last test) is held
    until the whole teardown has run, then stops the session before the next test: the finished test keeps its
    verdict and every finalizer runs."""
    with abort.signals.shielded(raise_held=False):
        yield
    if abort.signals.received is not None and not item.session.shouldstop:
        item.session.shouldstop = f"interrupted by {abort.signals.received.name}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Knows the running test; inside allure-pytest's own protocol hook, which closes an interrupted test's
    result as it stood (passed, from its setup) before pytest's teardown runs: mark it INTERRUPTED first."""
    item.config.stash[_STATE].running = item
    if _requirement_ids(item):
        narrative.info("test %s: started", item.nodeid)
    outcome = yield
    if outcome.excinfo and issubclass(outcome.excinfo[0], KeyboardInterrupt) and _requirement_ids(item):
        _allure_interrupted(item, (abort.signals.received or signal.SIGINT).name)


def _allure_interrupted(item, signal_name: str) -> None:
    allure.dynamic.label(TEST_LABEL, item.nodeid)
    allure.dynamic.label("verdict", Verdict.INTERRUPTED)
    listener = item.config.pluginmanager.getplugin("allure_listener")
    result = listener.allure_logger.get_test(None) if listener else None
    if result is not None:
        result.status = AllureStatus.BROKEN
        result.statusDetails = StatusDetails(message=f"INTERRUPTED by {signal_name}: the pump was commanded to stop")


def _judgement(item, ran_to_end: bool, interrupted: str | None = None) -> Judgement:
    """The one verdict of a test, from its phases so far, its measurements and its requirements' bounds."""
    state: HilState = item.config.stash[_STATE]
    phases = item.stash.get(_PHASES, {})
    errors = [
        exc
        for when in ("setup", "call", "teardown")
        if when in phases
        for report, exc in [phases[when]]
        if exc is not None and not report.skipped
    ]
    skips = [report for report, _ in phases.values() if report.skipped]
    evidence = item.stash.get(_EVIDENCE, None)
    bounds = [bound.name for rid in _requirement_ids(item) for bound in state.requirements[rid].acceptance]
    # A rig fault found in any phase (a line lost, the pump's clock off, found at teardown) voids what the test
    # measured: it decides before a finding of the call.
    rig_errors = [exc for exc in errors if isinstance(exc, RigError)]
    error = (rig_errors or errors or [None])[0]
    judgement = judge(
        bounds,
        evidence.measurements if evidence else [],
        ran_to_end=ran_to_end,
        error=error,
        interrupted=interrupted,
        skipped=_skip_reason(skips[0]) if skips else None,
        rig_broken=bool(skips) and item.stash.get(_BROKEN_SKIP, False),
    )
    unclaimed = [text.split(":", 1)[0] for rid in _requirement_ids(item) for text in state.requirements[rid].unclaimed]
    if unclaimed and judgement.verdict is not Verdict.SKIPPED:  # a verdict says what it did not judge
        judgement = replace(
            judgement, reason=f"{judgement.reason}; not judged, the device does not claim them: {', '.join(unclaimed)}"
        )
    voided = [exc for exc in errors if exc is not error and not isinstance(exc, RigError)]
    if rig_errors and voided and judgement.verdict is Verdict.ERROR:  # the finding it voids stays on record
        found = str(voided[0]).strip().replace("\n", " ")
        judgement = replace(judgement, reason=f"{judgement.reason} (it voids what the test found: {found})")
    return judgement


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    state: HilState = item.config.stash[_STATE]
    exc = call.excinfo.value if call.excinfo is not None else None
    item.stash.setdefault(_PHASES, {})[call.when] = (report, exc)
    ids = _requirement_ids(item)
    if ids and exc is not None and report.failed and classify(exc) is not FailureClass.TEST:
        report.longrepr = _finding(item, call)
    elif isinstance(exc, RigError):
        report.longrepr = f"RIG ERROR ({call.when}): {exc}"  # the message, not a traceback
    if isinstance(exc, RigError):
        if not state.broken:
            state.broken = f"{item.nodeid}: {exc}"
            log.error("rig marked broken: %s", state.broken)
    if not ids:
        return
    if state.run is not None:
        state.run.add_phase(item.nodeid, ids, report)
    if call.when == "teardown":
        _record_judgement(item, _judgement(item, ran_to_end="call" in item.stash[_PHASES]))
        state.running = None


def _finding(item, call) -> str:
    """A product or rig failure as the console shows it: what failed and whose failure it is, with the
    measurements the verdict lists, and where in the test; no traceback (that is for test errors, which keep
    pytest's)."""
    exc = call.excinfo.value
    label = "RIG ERROR" if isinstance(exc, RigError) else "INCONCLUSIVE" if isinstance(exc, Inconclusive) else "FAIL"
    where = next(
        (f"{entry.path}:{entry.lineno + 1}" for entry in reversed(call.excinfo.traceback) if entry.path == item.path),
        None,
    )
    message = str(exc).strip() or call.excinfo.exconly()
    return f"{label} [{classify(exc)} failure] ({call.when}): {message}" + (f"\n  at {where}" if where else "")


def _record_judgement(item, judgement: Judgement) -> None:
    state: HilState = item.config.stash[_STATE]
    state.judged[item.nodeid] = judgement
    cls = f" [{judgement.failure_class} failure]" if judgement.failure_class else ""
    narrative.info("test %s: %s%s: %s", item.nodeid, judgement.verdict, cls, judgement.reason)
    allure.dynamic.label(TEST_LABEL, item.nodeid)  # also where setup failed before any fixture could label it
    allure.dynamic.label("verdict", judgement.verdict)
    if judgement.failure_class:
        allure.dynamic.tag(f"{judgement.failure_class} failure")
        allure.dynamic.label("failure_class", judgement.failure_class)
    if state.run is not None:
        state.run.set_judgement(item.nodeid, _requirement_ids(item), judgement)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """After pytest's own teardown of the last (or interrupted) test and of the rig: judge an interrupted
    test, give the exit status of the signal (128 + its number), finish the record."""
    state: HilState = session.config.stash[_STATE]
    state.close_rig("end of session")
    if state.safety_session and session.exitstatus == pytest.ExitCode.INTERRUPTED:
        signum = abort.signals.received or signal.SIGINT  # a Ctrl-C before the handlers were installed
        state.interrupted = {"signal": signum.name, "test": state.running.nodeid if state.running else None}
        narrative.warning("interrupted by %s during %s", signum.name, state.interrupted["test"] or "no test")
        session.exitstatus = 128 + signum.value
        if state.running is not None and _requirement_ids(state.running):
            _record_judgement(state.running, _judgement(state.running, ran_to_end=False, interrupted=signum.name))
    if state.run is not None:
        state.run.finish(int(session.exitstatus), state.broken, state.interrupted)
        narrative.info("session ended: exit status %d", int(session.exitstatus))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state: HilState = config.stash[_STATE]
    for nodeid, judgement in state.judged.items():
        colour = {"green": True} if judgement.verdict == Verdict.PASS else {"red": True}
        cls = f" [{judgement.failure_class} failure]" if judgement.failure_class else ""
        terminalreporter.write_line(f"hil: {judgement.verdict} {nodeid}{cls}: {judgement.reason}"[:2000], **colour)
    if state.interrupted:
        terminalreporter.write_line(
            f"hil: INTERRUPTED by {state.interrupted['signal']}: the pump was commanded "
            "to stop; the run is recorded as interrupted",
            red=True,
        )
    if state.run is not None:
        terminalreporter.write_line(f"hil: evidence in {state.run.directory}")
    if state.broken:
        terminalreporter.write_line(f"hil: RIG ERROR: {state.broken}", red=True)
