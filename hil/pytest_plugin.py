"""The pytest side of the suite: options, the requirement marker, rig/requirement/evidence fixtures,
requirement binding checks, rig-broken handling and the run record.

Registered through the `pytest11` entry point, so plain `pytest --rig FILE` runs the safety suites too.
"""

import atexit
import json
import logging
from pathlib import Path

import allure
import pytest

from hil.errors import DeviceRefused, RigError
from hil.evidence.run import RunRecorder, new_run_dir
from hil.evidence.test_evidence import Inconclusive, TestEvidence, safe_name
from hil.rig.config import DEFAULT_RIG, RigConfigError, load_rig
from hil.rig.rig import Rig
from hil.specs import SpecError, load_requirements

log = logging.getLogger(__name__)
_STATE = pytest.StashKey["HilState"]()


def pytest_addoption(parser):
    group = parser.getgroup("hil", "insulin-pump HIL verification")
    group.addoption("--rig", default=str(DEFAULT_RIG), help="rig file (default: %(default)s)")
    group.addoption("--specs", default="specs", help="requirement file or directory (default: %(default)s)")
    group.addoption("--hil-run-dir", default=None, help="run folder for evidence (default: a new reports/runs/<id>)")
    group.addoption("--hil-trace", default=None, help="write the test → requirement map as JSON to this file")


def pytest_configure(config):
    config.addinivalue_line("markers", "requirement(id): binds a safety test to a requirement id in specs/")
    config.stash[_STATE] = HilState(config)


class HilState:
    def __init__(self, config):
        self.config = config
        self._requirements = None
        self.rig: Rig | None = None
        self.broken: str | None = None
        self.run: RunRecorder | None = None
        self.bound_items: list = []

    @property
    def requirements(self):
        if self._requirements is None:
            self._requirements = load_requirements([Path(self.config.getoption("specs"))])
        return self._requirements

    def run_recorder(self) -> RunRecorder:
        if self.run is None:
            option = self.config.getoption("hil_run_dir")
            directory = Path(option) if option else new_run_dir(Path("reports"), Path(self.config.getoption("rig")).stem)
            self.run = RunRecorder(directory, self.requirements)
        return self.run

    def open_rig(self) -> Rig:
        if self.broken:
            pytest.skip(f"rig broken: {self.broken}")
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
            atexit.register(self.close_rig, "interpreter exit")
            self.run_recorder().set_identities(rig.identities)
        return self.rig

    def close_rig(self, reason: str) -> None:
        if self.rig is not None:
            rig, self.rig = self.rig, None
            rig.close(reason)
            if self.run:
                self.run.add_safety(rig.safety_log)


def bound_to(*ids: str) -> list:
    """Parameters for one test function serving several requirements, each bound by its marker."""
    return [pytest.param(rid, marks=pytest.mark.requirement(rid), id=rid) for rid in ids]


def _requirement_ids(item) -> list[str]:
    return [mark.args[0] for mark in item.iter_markers("requirement") if mark.args]


def pytest_collection_modifyitems(session, config, items):
    state: HilState = config.stash[_STATE]
    bound = [item for item in items if _requirement_ids(item)]
    state.bound_items = bound
    trace_file = config.getoption("hil_trace")
    if trace_file:  # `hil trace` judges the map itself, unknown ids included
        Path(trace_file).write_text(json.dumps({item.nodeid: _requirement_ids(item) for item in bound}, indent=1))
        return
    if not bound:
        return
    try:
        known = state.requirements
    except SpecError as exc:
        raise pytest.UsageError(f"requirement files are invalid:\n{exc}") from None
    unknown = [(item.nodeid, rid) for item in bound for rid in _requirement_ids(item) if rid not in known]
    if unknown:
        raise pytest.UsageError("tests name unknown requirement ids:\n"
                                + "\n".join(f"  {node}: {rid}" for node, rid in unknown))
    if config.getoption("hil_run_dir"):  # a run (hil verify): its record lists what this session selected
        state.run_recorder().set_selected({item.nodeid: _requirement_ids(item) for item in bound})


def failure_class(excinfo) -> str:
    """Who failed: the rig (instrument, transport, broken rig, or an instrument too coarse for the bound:
    INCONCLUSIVE), the product (the pump failed a requirement:
    a measurement outside its limits, a state it never reached, a command it refused) or the test (anything
    else: an error in the suite)."""
    if excinfo.errisinstance((RigError, Inconclusive)):  # an instrument that cannot resolve the bound is the rig's
        return "rig"
    if excinfo.errisinstance((AssertionError, DeviceRefused)):
        return "product"
    return "test"


@pytest.fixture
def requirement(request):
    """The Requirement the test is bound to by its marker; also labels the Allure result."""
    state: HilState = request.config.stash[_STATE]
    ids = _requirement_ids(request.node)
    if len(ids) != 1:
        raise pytest.UsageError(f"{request.node.nodeid}: the 'requirement' fixture needs exactly one requirement marker")
    req = state.requirements[ids[0]]
    allure.dynamic.epic(req.area)
    allure.dynamic.story(req.id)
    allure.dynamic.severity(allure.severity_level(req.severity))
    allure.dynamic.link(f"{req.file.as_posix()}#L{req.line}", link_type="requirement", name=req.id)
    allure.attach(req.as_text(), name=f"requirement {req.id}", attachment_type=allure.attachment_type.TEXT)
    return req


@pytest.fixture
def rig(request, evidence):
    """The rig, put in its starting state for this test, its links' traffic logged into the test's evidence;
    the pump is commanded to stop when the test ends, however it ends."""
    state: HilState = request.config.stash[_STATE]
    the_rig = state.open_rig()
    allure.dynamic.parameter("rig", the_rig.config.rig_id)
    wire_logs = the_rig.start_wire_log(evidence.directory)
    try:
        the_rig.begin_test(request.node.nodeid)
    except RigError as exc:
        state.broken = str(exc)
        raise
    yield the_rig
    action = the_rig.make_safe(f"end of {request.node.nodeid}")
    the_rig.stop_wire_log()
    for path in wire_logs:
        if path.exists():
            evidence.attach_file(path, f"wire log {path.name}")
    state.run_recorder().add_safety([action], request.node.nodeid)
    if not action.ok:
        state.broken = f"pump did not acknowledge STOP: {action.detail}"


@pytest.fixture
def occlusion_valve(rig):
    """The rig's occlusion valve; the test is skipped, with the reason, on a rig without one."""
    if rig.occlusion_valve is None:
        pytest.skip(f"rig {rig.config.rig_id} has no occlusion valve (actuators.occlusion_valve)")
    return rig.occlusion_valve


@pytest.fixture
def site_faults(rig):
    """The rig's insertion-site fault fixtures; the test is skipped, with the reason, on a rig without them."""
    if rig.site_faults is None:
        pytest.skip(f"rig {rig.config.rig_id} has no site-fault fixtures (actuators.site_faults)")
    return rig.site_faults


@pytest.fixture
def evidence(request):
    state: HilState = request.config.stash[_STATE]
    run = state.run_recorder()
    ev = TestEvidence(run.directory / "tests" / safe_name(request.node.nodeid))
    yield ev
    ev.close()
    run.add_evidence(request.node.nodeid, _requirement_ids(request.node), ev)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item):
    """Title and description from the requirement; set here, inside allure-pytest's own call hook, which
    would otherwise overwrite them with the function name and docstring."""
    ids = _requirement_ids(item)
    if len(ids) == 1:
        req = item.config.stash[_STATE].requirements[ids[0]]
        allure.dynamic.title(f"{req.id}: {req.title}")
        allure.dynamic.description(f"{req.statement}\n\nHazard: {req.hazard}\n\nSource: {req.source}")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    state: HilState = item.config.stash[_STATE]
    cls = None
    if call.excinfo is not None and not report.skipped:
        cls = failure_class(call.excinfo)
    elif report.skipped and call.when == "setup" and "rig broken" in str(report.longrepr):
        cls = "rig"
    if call.excinfo is not None and call.excinfo.errisinstance(RigError):
        report.longrepr = f"RIG ERROR ({call.when}): {call.excinfo.value}"  # the message, not a traceback
        if not state.broken:
            state.broken = f"{item.nodeid}: {call.excinfo.value}"
            log.error("rig marked broken: %s", state.broken)
    if cls:
        allure.dynamic.tag(f"{cls} failure")
        allure.dynamic.label("failure_class", cls)
    if state.run is not None and _requirement_ids(item):
        state.run.add_report(item.nodeid, _requirement_ids(item), report, cls)


def pytest_sessionfinish(session, exitstatus):
    state: HilState = session.config.stash[_STATE]
    state.close_rig("end of session")
    if state.run is not None:
        state.run.finish(int(exitstatus), state.broken)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state: HilState = config.stash[_STATE]
    if state.run is not None:
        terminalreporter.write_line(f"hil: evidence in {state.run.directory}")
    if state.broken:
        terminalreporter.write_line(f"hil: RIG ERROR: {state.broken}", red=True)
