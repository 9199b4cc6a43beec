"""A rig on a labgrid place, without a lab (the lab itself: tests/system/test_lab.py): the rig file's labgrid
section and `@labgrid:` ports checked across sections, the acquisition handed to pytest, the exporter
configuration of the emulator's ptys, and a coordinator that is not there."""

from pathlib import Path

import pytest
import yaml

from hil.rig import lab
from hil.rig.config import RigConfigError, load_rig
from hil.rig.rig import NO_PUMP_LINK
from hil.run.place import pump_left_stopped
from hil.run.pytest_child import ChildOutcome

RIGS = Path(__file__).resolve().parents[2] / "fixtures" / "rigs"
PLACE = "labgrid: {coordinator: '127.0.0.1:20408', place: bench-a, emulator_control: control}\n"


def _problems(tmp_path, text: str) -> dict[str, str]:
    rig = tmp_path / "rig.yaml"
    rig.write_text(f"extends: {RIGS / 'emulator.yaml'}\n" + text)
    with pytest.raises(RigConfigError) as info:
        load_rig(rig)
    return {problem.key: problem.message for problem in info.value.problems}


def test_the_lab_rigs_reach_every_device_and_the_emulator_through_their_place():
    config = load_rig(RIGS / "lab-emulator-b.yaml")
    assert config.section("labgrid") == {"coordinator": "127.0.0.1:20408", "place": "bench-b", "emulator_control": "control"}
    ports = {section: config.section(section)["port"] for section in ("pump", "scale", "lost_scale")}
    assert ports == {"pump": "@labgrid:pump", "scale": "@labgrid:balance", "lost_scale": "@labgrid:balance-lost"}


@pytest.mark.parametrize("text, key, message", [
    ('pump: {port: "@labgrid:pump"}\n', "pump.port", "needs a 'labgrid:' section"),
    ("labgrid: {coordinator: '127.0.0.1:20408', place: bench-a}\n", "labgrid", "needs 'emulator_control'"),
    (PLACE, "pump.port", "the emulator is the place's: its ports are @labgrid:<resource>, not @emulator:pump"),
    (PLACE + "clock: real\n", "labgrid.emulator_control", "needs clock: sim or rehearsal"),
    ("labgrid: {coordinator: 'lab.example:x', place: bench-a, emulator_control: control}\n", "labgrid.coordinator",
     "should match pattern"),
    ("labgrid: {coordinator: '127.0.0.1:20408', place: 'bench a', emulator_control: control}\n", "labgrid.place",
     "should match pattern"),
])
def test_a_lab_rig_that_cannot_work_is_refused_where_it_is_wrong(tmp_path, text, key, message):
    problems = _problems(tmp_path, text)
    assert key in problems and message in problems[key], problems


def test_a_can_channel_is_not_taken_from_a_place(tmp_path):
    problems = _problems(tmp_path, PLACE + 'can: {interface: virtual, channel: "@labgrid:can"}\n')
    assert "not reached through labgrid" in problems["can.channel"]


def _acquisition(**changes) -> lab.Acquisition:
    fields = dict(coordinator="127.0.0.1:20408", place="bench-a", holder="pc/alice",
                  ports={"pump": "rfc2217://127.0.0.1:4001?ign_set_control"}, acquired_at="2026-12-02T15:00:00+00:00")
    return lab.Acquisition(**{**fields, **changes})


def test_a_port_resolves_to_its_resource_or_names_what_the_place_has():
    acquisition = _acquisition()
    assert acquisition.url("@labgrid:pump") == "rfc2217://127.0.0.1:4001?ign_set_control"
    with pytest.raises(lab.LabError, match=r"place bench-a has no serial resource 'scale' \(it has: pump\)"):
        acquisition.url("@labgrid:scale")


def test_pytest_takes_the_place_hil_verify_holds_and_only_that_one(monkeypatch):
    monkeypatch.setenv(lab.ACQUISITION_ENV, _acquisition().as_json())
    assert lab.Acquisition.from_env("127.0.0.1:20408", "bench-a") == _acquisition()
    assert lab.Acquisition.from_env("127.0.0.1:20408", "bench-b") is None  # another place: acquired by the rig
    monkeypatch.setenv(lab.ACQUISITION_ENV, '{"place": "bench-a"}')
    with pytest.raises(lab.LabError, match=f"{lab.ACQUISITION_ENV} is not an acquisition"):
        lab.Acquisition.from_env("127.0.0.1:20408", "bench-a")
    monkeypatch.delenv(lab.ACQUISITION_ENV)
    assert lab.Acquisition.from_env("127.0.0.1:20408", "bench-a") is None


def test_the_exporter_configuration_publishes_every_serial_endpoint_of_the_emulator():
    endpoints = {"pump": "/dev/pts/1", "balance": "/dev/pts/2", "balance-lost": "/dev/pts/3", "control": "/dev/pts/4",
                 "can": "/dev/pts/5", "pid": 1}
    config = yaml.safe_load(lab.exporter_config("bench-a", endpoints))
    assert config == {"bench-a": {name: {"cls": "RawSerialPort", "port": endpoints[name], "speed": lab.EXPORTED_SPEED}
                                  for name in ("pump", "balance", "balance-lost", "control")}}


def test_a_coordinator_that_is_not_there_is_one_line(capsys):
    with pytest.raises(lab.LabError) as info:
        lab.acquire("127.0.0.1:1", "bench-a")
    assert str(info.value) == "labgrid coordinator 127.0.0.1:1: connect: Could not connect to coordinator"
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err



@pytest.mark.parametrize("killed, actions, released", [
    (False, [{"ok": True, "detail": "pump acknowledged STOP in 0.01 s"}], True),
    (False, [{"ok": True, "detail": "x"}, {"ok": False, "detail": "STOP not acknowledged: balance link lost"}], False),
    (False, [{"ok": False, "detail": "STOP not acknowledged"}, {"ok": True, "detail": "pump acknowledged STOP"}], True),
    (False, [{"ok": False, "detail": NO_PUMP_LINK}], True),  # never reached the pump: nothing to stop
    (False, [], True),  # the rig never opened
    (True, [{"ok": True, "detail": "pump acknowledged STOP"}], False),  # killed after: what it did since is unknown
])
def test_a_place_goes_back_to_the_lab_only_with_its_pump_stopped(killed, actions, released):
    child = ChildOutcome(130 if killed else 0, None, killed)
    assert pump_left_stopped(child, {"safety_actions": actions}) is released


def _holding(monkeypatch, events: list[str]) -> None:
    """lab.acquire and lab.release as a coordinator would answer, each call written into events."""
    acquisition = lab.Acquisition("127.0.0.1:20408", "bench-a", "host/user", {}, "2026-12-07T00:00:00+00:00")
    monkeypatch.setattr(lab, "acquire", lambda coordinator, place, wait_s: events.append("acquire") or acquisition)
    monkeypatch.setattr(lab, "release", lambda held: events.append("release"))


def test_what_stops_a_run_on_a_place_is_said_before_the_place_goes_back(monkeypatch):
    from hil.run.place import on_place
    from hil.run.say import RunStop, Say

    events: list[str] = []
    _holding(monkeypatch, events)
    say = Say(out=lambda line: events.append(f"out: {line}"), err=lambda line: events.append(f"err: {line}"))

    def refused(held):
        raise RunStop(1, "resume refused: another rig")

    with pytest.raises(RunStop) as stopped:
        on_place({"coordinator": "127.0.0.1:20408", "place": "bench-a"}, 0.0, say, refused)
    assert stopped.value.exit_status == 1 and not stopped.value.line  # said already, not again by the command
    said = [e for e in events if e.startswith("err") or e == "release"]
    assert said == ["err: resume refused: another rig", "release"]

    def interrupted(held):
        raise KeyboardInterrupt

    events.clear()
    with pytest.raises(RunStop) as stopped:
        on_place({"coordinator": "127.0.0.1:20408", "place": "bench-a"}, 0.0, say, interrupted)
    assert stopped.value.exit_status == 130 and [e for e in events if e.startswith("err") or e == "release"] == [
        "err: hil: SIGINT: stopped",
        "release",
    ]
