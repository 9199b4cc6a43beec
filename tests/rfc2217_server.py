"""A loopback RFC 2217 server for tests: one serial port (a pty of the emulator) published on 127.0.0.1 the way a
lab's serial server (ser2net, labgrid's exporter) publishes a bench instrument. After pyserial's own example
(examples/rfc2217_server.py): serial.rfc2217.PortManager answers the telnet option negotiation and escapes
the data; this class only moves bytes between the socket and the port, one thread each way."""

import socket
import threading

import serial
import serial.rfc2217


class _NoModemLines:
    """The port as PortManager sees it: a pty has no modem lines (their ioctls fail), so they read as inactive
    and setting them does nothing; everything else is the port's."""

    cts = dsr = ri = cd = False

    def __init__(self, port: serial.SerialBase):
        object.__setattr__(self, "_port", port)

    def __getattr__(self, name):
        return getattr(self._port, name)

    def __setattr__(self, name, value):
        if name not in ("rts", "dtr", "break_condition"):
            setattr(self._port, name, value)


class Rfc2217Server:
    """Serves `port` to one client at a time on 127.0.0.1:<self.port> until close()."""

    def __init__(self, port: str):
        self.serial = serial.serial_for_url(port, timeout=0.05)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"rfc2217://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._client: socket.socket | None = None
        self._manager: serial.rfc2217.PortManager | None = None
        threading.Thread(target=self._accept, daemon=True).start()
        self._reader = threading.Thread(target=self._port_to_client, daemon=True)
        self._reader.start()

    def _write(self, data: bytes) -> None:
        with self._lock:
            if self._client is not None:
                self._client.sendall(data)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._client = client
            self._manager = serial.rfc2217.PortManager(_NoModemLines(self.serial), self)
            while not self._stopping.is_set():
                try:
                    data = client.recv(4096)
                except OSError:  # closed by close()
                    break
                if not data:
                    break
                self.serial.write(b"".join(self._manager.filter(data)))
            with self._lock:
                self._client = None
            client.close()

    def write(self, data: bytes) -> None:
        """PortManager's connection: its negotiation replies go to the client."""
        self._write(data)

    def _port_to_client(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self.serial.read(max(1, self.serial.in_waiting))
            except (serial.SerialException, OSError):
                return
            if data and self._manager is not None:
                try:
                    self._write(b"".join(self._manager.escape(data)))
                except OSError:
                    pass

    def close(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            if self._client is not None:
                self._client.shutdown(socket.SHUT_RDWR)  # the client sees the end (a close alone may not send it)
                self._client.close()
        self._reader.join()  # it reads the port with a 50-ms timeout: it sees _stopping before the port closes
        self.serial.close()
