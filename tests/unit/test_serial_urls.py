"""Every serial device accepts any pyserial URL (issue 13 item 6): device paths, socket://, rfc2217:// (what lab
serial servers and labgrid export), spy://, loop://, with the link's deadlines on each; the drivers work unchanged
over an RFC 2217 server in front of the emulator's ptys."""

import os
import socket
import threading
import time

import pytest

from hil.drivers.mtsics import MtSicsBalance
from hil.drivers.pump_reference import ReferencePumpDriver
from hil.errors import TransportError
from hil.transport.serial_line import SerialLine

from hil.rig.emulator_process import EmulatorProcess

from ..rfc2217_server import Rfc2217Server
from .test_wire_faults import NOMINAL


def test_loop_url_reads_back_what_it_writes():
    line = SerialLine("loop://", timeout_s=0.3)
    line.write_line(b"S\r\n")
    line.write_line(b"I4\r\n")
    assert line.read_line() == b"S\r\n" and line.pending_lines() == [b"I4\r\n"]
    started = time.monotonic()
    with pytest.raises(TransportError, match="no answer within 0.3 s"):
        line.read_line()
    assert 0.3 <= time.monotonic() - started < 0.6
    line.close()


def test_a_bad_url_is_a_transport_error_naming_it():
    with pytest.raises(TransportError, match="balance: cannot open rfc2217://127.0.0.1:1"):
        SerialLine("rfc2217://127.0.0.1:1", name="balance")
    with pytest.raises(TransportError, match="cannot open nosuch://x"):
        SerialLine("nosuch://x")


@pytest.fixture
def echo_server():
    """A TCP device that answers each line with `OK <line>`."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        client, _ = server.accept()
        with client:
            buffer = b""
            while data := client.recv(4096):
                buffer += data
                while b"\n" in buffer:
                    line, _, buffer = buffer.partition(b"\n")
                    client.sendall(b"OK " + line + b"\n")

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_socket_url_waits_on_its_descriptor(echo_server):
    line = SerialLine(f"socket://127.0.0.1:{echo_server}", timeout_s=1.0)
    line.write_line(b"STATUS\r\n")
    assert line.read_line() == b"OK STATUS\r\n"
    with pytest.raises(TransportError, match="no answer within 0.2 s"):
        line.read_line(0.2)
    line.close()


def test_spy_url_sees_the_traffic(tmp_path):
    device, port = os.openpty()  # spy:// wraps a device path
    log = tmp_path / "spy.txt"
    line = SerialLine(f"spy://{os.ttyname(port)}?file={log}", timeout_s=0.5)
    line.write_line(b"SI\r\n")
    assert os.read(device, 100) == b"SI\r\n"
    os.write(device, b"S S 1.0 g\r\n")
    assert line.read_line() == b"S S 1.0 g\r\n"
    line.close()
    os.close(device)
    os.close(port)
    text = log.read_text()
    assert "TX" in text and "RX" in text  # it went through pyserial, not around it


@pytest.fixture(scope="module")
def served_emulator():
    """The emulator with its pump and balance behind loopback RFC 2217 servers."""
    process = EmulatorProcess(NOMINAL)
    servers = {name: Rfc2217Server(process.endpoints[name]) for name in ("pump", "balance")}
    yield servers
    for server in servers.values():
        server.close()
    process.stop()


def test_the_drivers_work_over_rfc2217(served_emulator):
    balance = MtSicsBalance(served_emulator["balance"].url, time.monotonic, timeout_s=2.0)
    assert balance.identify()["serial"] == "B000000001"
    assert balance.read().mass_mg > 0
    balance.close()
    pump = ReferencePumpDriver(served_emulator["pump"].url, timeout_s=2.0)
    assert pump.identify().serial == "EMU-0001"
    assert pump.status().state
    pump.stop()
    pump.close()


def test_an_rfc2217_server_that_goes_away_is_a_lost_link_at_once_not_at_the_deadline():
    server = Rfc2217Server("loop://")
    line = SerialLine(server.url, name="balance", timeout_s=30.0)
    threading.Timer(0.3, server.close).start()
    started = time.monotonic()
    with pytest.raises(TransportError, match="balance .*link lost"):
        line.read_line()
    assert time.monotonic() - started < 5  # the reader thread's end, seen while waiting on its queue
    line.close()
