"""The plant channel's link (hil/emulator/firmware_link.py, docs/plant-channel.md) with small firmware programs
written here and run as processes: a well-behaved one moves the World's plant in lockstep (its strokes reach the
fluid path at their times, it reads the plant's pressure, its serial bytes leave at its times, the reference pump
is not built), and misbehaving ones (a stray line, a time out of the exchange, a volume out of range, bad hex,
silence, an exit, a missing program, a wrong HELLO) fail with one line naming the firmware and what it did, stay
failed without talking to it again, and leave no process behind; the control channel refuses ADV and RESET with
that line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from hil.emulation.options import EmulatorConfig, FirmwareProcess
from hil.emulator.firmware_link import FirmwareFailed, FirmwareLink
from hil.emulator.pump import Refused
from hil.emulator.world import World
from hil.transport.frames import Frame

PROGRAM = f"{os.path.basename(sys.executable)} scripted.py"  # what a command's firmware is called before HELLO
NAME = f"scripted ({PROGRAM})"  # and after: the name it gave, its program beside it
DOCS = "(docs/plant-channel.md)"
ROOT = Path(__file__).resolve().parents[2]

WELL_BEHAVED = """
import sys

STROKES = ((1.0, 2.0), (3.0, 0.5))  # (s after the reset, uL)
log = open({log!r}, "a")


def send(line):
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()


def heard(line):
    log.write(line)
    log.flush()
    return line.split()


due = []
for line in sys.stdin:
    word, *args = heard(line)
    if word == "HELLO":
        send("HELLO 1 tiny-pump")
        continue
    if word == "RESET":
        due = [(float(args[1]) + after, volume) for after, volume in STROKES]
        end = args[1]
    elif word == "RX":
        send(f"TX {{args[0]}} {{args[1]}}")
        end = args[0]
    elif word == "FIT":
        end = args[1]
    elif word == "RUN":
        while due and due[0][0] <= float(args[0]):
            t, volume = due.pop(0)
            send(f"PUSH {{t!r}} {{volume!r}}")
            heard(sys.stdin.readline())
        end = args[0]
    send(f"DONE {{end}}")
"""

SCRIPTED = """
import os, sys, time

open({pid!r}, "w").write(str(os.getpid()))


def send(line):
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()


for line in sys.stdin:
    word, *args = line.split()
    if word == "HELLO":
        send({hello!r})
    elif word == "RUN":
{on_run}
    else:
        send("DONE " + (args[1] if word == "RESET" else args[0]))
"""


def well_behaved(tmp_path) -> FirmwareProcess:
    script = tmp_path / "tiny_pump.py"
    script.write_text(WELL_BEHAVED.format(log=str(tmp_path / "heard.log")))
    return FirmwareProcess(command=(sys.executable, str(script)), exchange_timeout_s=4)


def scripted(tmp_path, on_run: str, hello: str = "HELLO 1 scripted") -> FirmwareProcess:
    """A firmware that answers HELLO with `hello`, RESET and RX with DONE, and runs `on_run` on a RUN."""
    script = tmp_path / "scripted.py"
    pid = str(tmp_path / "pid")
    script.write_text(SCRIPTED.format(pid=pid, hello=hello, on_run=textwrap.indent(on_run, " " * 8)))
    return FirmwareProcess(command=(sys.executable, str(script)), exchange_timeout_s=0.5)


def sending(*lines: str) -> str:
    return "\n".join(f"send({line!r})" for line in lines)


def gone(tmp_path) -> bool:
    try:
        os.kill(int((tmp_path / "pid").read_text()), 0)
    except ProcessLookupError:
        return True
    return False


class FakePlant:
    """The link's plant side, at t=10 s: a fixed pressure, and what it was asked to do."""

    pressure_kPa = 12.5

    def __init__(self):
        self.now = 10.0
        self.runs: list[float] = []
        self.pushed: list[float] = []
        self.sent: list[tuple[bytes, float]] = []

    def push(self, volume_uL: float) -> None:
        self.pushed.append(volume_uL)

    def retract(self, volume_uL: float) -> float:
        return 0.0

    def run_to(self, t: float) -> None:
        self.runs.append(t)
        self.now = t

    def transmit(self, data: bytes, t: float) -> None:
        self.sent.append((data, t))


def link_to(options: FirmwareProcess, plant: FakePlant) -> FirmwareLink:
    return FirmwareLink(options, lambda: plant, lambda: plant.now, plant.run_to, plant.transmit)


@pytest.fixture
def links():
    started: list[FirmwareLink] = []
    yield started
    for link in started:
        link.stop()


# -- a well-behaved firmware on the World's plant -------------------------------------------------------------------
def test_a_firmware_process_moves_the_plant_with_its_strokes_at_their_times(tmp_path):
    sent: list[tuple[bytes, float]] = []
    config = EmulatorConfig(seed=7, firmware=well_behaved(tmp_path))
    world = World(config, lambda kind, fields: None, lambda line: None, lambda data, t: sent.append((data, t)))
    try:
        assert world.pump is None and world.firmware is not None
        strokes: list[tuple[float, float, float]] = []  # (plant time, µL, pressure after)
        push = world.bench.push

        def recorded_push(volume_uL: float) -> None:
            push(volume_uL)
            strokes.append((world.scheduler.now, volume_uL, world.bench.pressure_kPa))

        world.bench.push = recorded_push

        def delivered() -> float:
            truth = world.inspect()
            return truth["stored_uL"] + truth["arrived_uL"] + truth["lost_uL"]

        world.advance(0.5)
        assert (world.inspect()["t"], delivered()) == (0.5, 0.0)
        world.advance(1.0)
        assert world.inspect()["t"] == 1.5
        assert delivered() == pytest.approx(2.0)
        assert 0 < world.inspect()["arrived_uL"] < 2.0  # flowing since t=1 s
        world.advance(2.0)
        assert delivered() == pytest.approx(2.5)
        assert [(t, volume) for t, volume, _ in strokes] == [(1.0, 2.0), (3.0, 0.5)]

        world.firmware.receive(b"\x01\xfe")
        assert sent == [(b"\x01\xfe", 3.5)]
        world.firmware.fit(400.0)  # a 40 U reservoir fitted (the rig's reservoir fixture)

        world.reset(11)
        assert world.inspect()["stored_uL"] == 0.0 and world.pump is None
        heard = (tmp_path / "heard.log").read_text().splitlines()
        assert heard == [
            "HELLO 1",
            "RESET 7 0.0",
            "RUN 0.5",
            "RUN 1.5",
            f"PRESSURE {strokes[0][2]!r}",
            "RUN 3.5",
            f"PRESSURE {strokes[1][2]!r}",
            "RX 3.5 01fe",
            "FIT 400.0 3.5",
            "RESET 11 3.5",
        ]
        assert strokes[0][2] > world.config.fluid_path.tissue_pressure_kPa
    finally:
        world.firmware.stop()
    assert world.firmware.process.poll() is not None


def test_a_stopped_link_leaves_no_process(tmp_path):
    link = link_to(well_behaved(tmp_path), FakePlant())
    assert link.process.poll() is None
    link.stop()
    assert link.process.poll() is not None


# -- a misbehaving firmware ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lines", "what"),
    [
        (("BANG 11.0",), "sent 'BANG 11.0', which is no message of the plant channel"),
        (("PRESSURE 9.5",), "sent a message at t=9.5, outside the exchange [10.0, 12.0]"),
        (("PRESSURE 11.5", "PRESSURE 11.0"), "sent a message at t=11.0, outside the exchange [11.5, 12.0]"),
        (("PUSH 12.5 1.0",), "sent a message at t=12.5, outside the exchange [10.0, 12.0]"),
        (("TX nan 00",), "sent a message at t=nan, outside the exchange [10.0, 12.0]"),
        (("PRESSURE soon",), "sent the time 'soon', which is no number"),
        (("DONE 11.0",), "ended at t=11.0, not at t=12.0"),
        (("PUSH 11.0 -0.5",), "sent a stroke of -0.5 µL, outside 0-1000 µL"),
        (("PUSH 11.0 nan",), "sent a stroke of nan µL, outside 0-1000 µL"),
        (("PUSH 11.0 1000.5",), "sent a stroke of 1000.5 µL, outside 0-1000 µL"),
        (("RETRACT 11.0 inf",), "sent a stroke of inf µL, outside 0-1000 µL"),
        (("TX 11.0 0g",), "sent TX of '0g', which is not hex"),
    ],
    ids=[
        "stray-line",
        "before-the-exchange",
        "going-back",
        "after-the-exchange",
        "nan-time",
        "no-time",
        "done-early",
        "negative-volume",
        "nan-volume",
        "volume-over-1000",
        "infinite-retract",
        "non-hex",
    ],
)
def test_a_firmware_breaking_the_protocol_fails_once_and_for_all(tmp_path, links, lines, what):
    plant = FakePlant()
    link = link_to(scripted(tmp_path, sending(*lines)), plant)
    links.append(link)
    with pytest.raises(FirmwareFailed) as failure:
        link.run(12.0)
    message = f"firmware {NAME} {what} {DOCS}"
    assert str(failure.value) == message
    assert link.failed == message
    assert link.process.poll() is not None
    assert plant.pushed == [] and plant.sent == []
    runs = list(plant.runs)
    for exchange in (lambda: link.run(13.0), lambda: link.receive(b"\x00"), lambda: link.reset(3)):
        with pytest.raises(FirmwareFailed) as again:
            exchange()
        assert str(again.value) == message
    assert plant.runs == runs


def test_a_firmware_that_falls_silent_is_held_hung_and_killed(tmp_path, links):
    link = link_to(scripted(tmp_path, "time.sleep(60)"), FakePlant())
    links.append(link)
    began = time.monotonic()
    with pytest.raises(FirmwareFailed) as failure:
        link.run(12.0)
    message = f"firmware {NAME} did not end the exchange within 0.5 s: hung {DOCS}"
    assert str(failure.value) == link.failed == message
    assert time.monotonic() - began < 4.0
    assert link.process.poll() is not None
    with pytest.raises(FirmwareFailed) as again:
        link.run(13.0)
    assert str(again.value) == message


@pytest.mark.parametrize("on_run", [
    'for _ in range(20000):\n    send("PUSH " + args[0] + " 0.1")\ntime.sleep(60)',  # never reads the answers
    'while True:\n    send("PRESSURE " + args[0])\n    sys.stdin.readline()',  # one exchange that never ends
], ids=["floods-without-reading", "chatters-forever"])
def test_a_firmware_that_never_ends_its_exchange_is_held_hung_whatever_it_does_meanwhile(tmp_path, links, on_run):
    link = link_to(scripted(tmp_path, on_run), FakePlant())
    links.append(link)
    began = time.monotonic()
    with pytest.raises(FirmwareFailed) as failure:
        link.run(12.0)
    assert str(failure.value) == f"firmware {NAME} did not end the exchange within 0.5 s: hung {DOCS}"
    assert time.monotonic() - began < 4.0 and link.process.poll() is not None


def test_a_reset_lets_the_event_count_start_again(tmp_path, links):
    on_run = 'send("DONE " + args[0] + " 5")'
    link = link_to(scripted(tmp_path, on_run), FakePlant())
    links.append(link)
    link.run(12.0)
    link.reset(3)
    assert link.events == 0


def test_a_firmware_on_an_emulator_serving_its_own_pump_is_refused():
    with pytest.raises(ValidationError, match="firmware: runs on hil's own plant .module: hil.emulator.; "
                                              "bpx_hil.sim serves a pump of its own"):
        EmulatorConfig(module="bpx_hil.sim", firmware=FirmwareProcess(module="bpx_hil.firmware"))


def test_running_free_a_dead_firmware_is_said_once_and_the_plant_runs_on(tmp_path, capsys):
    from hil.emulator.server import EmulatorServer

    on_run = 'sys.stderr.write("watchdog reset\\n")\nsys.exit(70)'
    server = EmulatorServer(EmulatorConfig(firmware=scripted(tmp_path, on_run), free_run=True, speed=1000.0))
    try:
        for _ in range(3):
            time.sleep(0.01)
            server._follow_wall_clock()
        assert server.world.scheduler.now > 10.0  # 30 ms at 1000x
        said = capsys.readouterr().err.splitlines()
        assert said == [f"emulator: firmware {NAME} exited with code 70: watchdog reset {DOCS}"]
    finally:
        server.world.firmware.stop()


def test_an_emulator_stopped_while_its_firmware_starts_leaves_no_firmware_behind(tmp_path):
    rig = tmp_path / "rig.yaml"
    script = tmp_path / "silent.py"
    script.write_text(f"import os, time\nopen({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    rig.write_text(f"extends: {json.dumps(str(ROOT / 'fixtures' / 'rigs' / 'emulator.yaml'))}\nrig_id: silent\n"
                   f"emulator:\n  firmware: {{command: [{json.dumps(sys.executable)}, {json.dumps(str(script))}], "
                   "exchange_timeout_s: 4}\n")
    emulator = subprocess.Popen([sys.executable, "-m", "hil.emulator", str(rig), "--watch-stdin"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    emulator.send_signal(signal.SIGTERM)
    emulator.communicate(timeout=10)
    deadline = time.monotonic() + 5
    while not gone(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(tmp_path)


def test_a_line_written_after_an_exchange_ended_is_a_broken_protocol_not_the_next_answer(tmp_path, links):
    link = link_to(scripted(tmp_path, sending("DONE 12.0", "TX 12.0 ff")), FakePlant())
    links.append(link)
    link.run(12.0)
    time.sleep(0.2)  # the stray line has arrived
    with pytest.raises(FirmwareFailed) as failure:
        link.receive(b"\x01")
    assert str(failure.value) == f"firmware {NAME} wrote 'TX 12.0 ff' outside an exchange {DOCS}"
    assert link.process.poll() is not None


def test_done_may_count_the_events_the_firmware_sent_and_the_count_never_goes_back(tmp_path, links):
    on_run = 'send("DONE " + args[0] + (" 5" if float(args[0]) < 13 else " 4"))'
    link = link_to(scripted(tmp_path, on_run), FakePlant())
    links.append(link)
    assert link.events == 0
    link.run(12.0)
    assert link.events == 5
    with pytest.raises(FirmwareFailed) as failure:
        link.run(13.0)
    assert str(failure.value) == f"firmware {NAME} counted its events '4', not a whole number from 5 on {DOCS}"


def test_a_stopped_link_leaves_no_file_open(tmp_path):
    link = link_to(scripted(tmp_path, sending("DONE 12.0")), FakePlant())
    link.run(12.0)
    link.stop()
    assert link.process.stdin.closed and link.process.stdout.closed and link._stderr.closed


def test_a_firmware_that_exits_is_quoted_with_its_last_error_line_and_exit_code(tmp_path, links):
    on_run = 'sys.stderr.write("stroke 41\\nmotor driver: stall on phase B\\n")\nsys.exit(3)'
    link = link_to(scripted(tmp_path, on_run), FakePlant())
    links.append(link)
    with pytest.raises(FirmwareFailed) as failure:
        link.run(12.0)
    message = f"firmware {NAME} exited with code 3: motor driver: stall on phase B {DOCS}"
    assert str(failure.value) == link.failed == message
    assert link.process.poll() == 3
    with pytest.raises(FirmwareFailed) as again:
        link.run(13.0)
    assert str(again.value) == message


def test_a_missing_program_cannot_start(tmp_path):
    program = str(tmp_path / "no-such-firmware")
    options = FirmwareProcess(command=(program, "--plant"), exchange_timeout_s=0.5)
    with pytest.raises(FirmwareFailed) as failure:
        link_to(options, FakePlant())
    assert str(failure.value) == (
        f"firmware no-such-firmware --plant: cannot start {program}: No such file or directory")


@pytest.mark.parametrize("hello", ["HELLO 2 scripted", "HI 1 scripted", "DONE 10.0", "HELLO 1"])
def test_a_wrong_hello_fails_the_start_and_ends_the_process(tmp_path, hello):
    with pytest.raises(FirmwareFailed) as failure:
        link_to(scripted(tmp_path, sending("DONE 12.0"), hello=hello), FakePlant())
    assert str(failure.value) == f"firmware {PROGRAM} answered HELLO with '{hello}', not 'HELLO 1 <name>' {DOCS}"
    assert gone(tmp_path)


# -- the control channel --------------------------------------------------------------------------------------------
def test_after_the_firmware_failed_the_control_channel_refuses_adv_and_reset_with_its_line(tmp_path):
    from hil.emulator.server import EmulatorServer

    on_run = 'sys.stderr.write("watchdog reset\\n")\nsys.exit(70)'
    server = EmulatorServer(EmulatorConfig(firmware=scripted(tmp_path, on_run)))
    try:
        message = f"firmware {NAME} exited with code 70: watchdog reset {DOCS}"
        for request in (("ADV", "1"), ("ADV", "1"), ("RESET", "2")):
            with pytest.raises(Refused) as refused:
                server._control(Frame("1", request[0], request[1:]))
            assert (refused.value.code, refused.value.message) == ("NOT_ALLOWED", message), request
        assert server.world.scheduler.now == 0.0
        assert server.world.firmware.process.poll() == 70
    finally:
        server.world.firmware.stop()
        for channel in (server.pump_ch, server.balance_ch, server.lost_balance_ch, server.control_ch, server.can_ch):
            os.close(channel.master)
            os.close(channel.slave_fd)
