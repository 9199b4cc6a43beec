"""A rig on a labgrid place (docs/lab.md): the place acquired from the lab's coordinator for a whole run, its
exported serial ports resolved to pyserial URLs (RFC 2217, through the exporter's ser2net), released at the end.

labgrid's own client session does the talking (hil only adds deadlines): a place is acquired in the name
`<host>/<user>` (LG_HOSTNAME, LG_USERNAME, else this machine's), and the coordinator keeps it acquired until
that name releases it, whatever happens to the connection. So `hil verify` acquires, lets the connection go,
hands the acquisition to its pytest in the environment (`HIL_LABGRID_ACQUISITION`), and releases after pytest
has stopped the pump and ended. A place held by anyone, this user's other runs included, is refused naming
its holder, or waited for through a labgrid reservation.
"""

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from hil.errors import RigError

LAB_PORT = "@labgrid:"  # a rig file's port naming one of its place's exported serial ports
ACQUISITION_ENV = "HIL_LABGRID_ACQUISITION"  # set by `hil verify` for its pytest: the place it holds
DEFAULT_PORT = 20408  # labgrid's coordinator port
COORDINATOR_TIMEOUT_S = 10.0  # every exchange with the coordinator (connect, acquire, release, poll)
POLL_S = 1.0  # a waiting reservation's poll period (labgrid-client's own)
SERIAL_CLASS = "NetworkSerialPort"  # what an exporter publishes a RawSerialPort or USBSerialPort as

T = TypeVar("T")


class LabError(RigError):
    """The lab cannot give the rig: coordinator unreachable, place unknown or held, a resource missing."""

    def __init__(self, message: str, status: str | None = None):
        super().__init__(message)
        self.status = status  # the coordinator's gRPC status name, where it refused


class PlaceHeld(LabError):
    """The place is acquired by someone (another engineer, or another run of this user), or promised to
    someone's reservation."""


@dataclass(frozen=True)
class Acquisition:
    """A place held for a run: by whom, and its serial resources as pyserial URLs."""

    coordinator: str
    place: str
    holder: str  # "<host>/<user>", labgrid's name for whoever acquired it
    ports: dict[str, str]  # resource name → rfc2217:// (or socket://) URL
    acquired_at: str  # UTC, ISO 8601

    def url(self, port: str) -> str:
        """The URL of a `@labgrid:<resource>` port."""
        name = port[len(LAB_PORT) :]
        if name not in self.ports:
            have = ", ".join(sorted(self.ports)) or "none"
            raise LabError(f"place {self.place} has no serial resource '{name}' (it has: {have})")
        return self.ports[name]

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_env(cls, coordinator: str, place: str) -> "Acquisition | None":
        """The acquisition `hil verify` handed down, if it is of this place."""
        text = os.environ.get(ACQUISITION_ENV)
        if not text:
            return None
        try:
            acquisition = cls(**json.loads(text))
        except (ValueError, TypeError) as exc:
            raise LabError(f"{ACQUISITION_ENV} is not an acquisition: {exc}") from None
        if (acquisition.coordinator, acquisition.place) != (coordinator, place):
            return None
        return acquisition


def serial_url(host: str, port: int, protocol: str = "rfc2217") -> str:
    """pyserial's URL of an exported port. ser2net answers RFC 2217's modem-control commands with values pyserial
    does not expect back: `ign_set_control` (pyserial's option for that) accepts them. A `raw` port is plain TCP."""
    if protocol == "raw":
        return f"socket://{host}:{port}"
    return f"rfc2217://{host}:{port}?ign_set_control"


def _drop_labgrid_records(record: logging.LogRecord) -> bool:
    return f"{os.sep}labgrid{os.sep}" not in record.pathname


def _quiet_labgrid() -> None:
    """labgrid's client logs a failed connection to the root logger, with a traceback: hil says it in one line
    (LabError) instead."""
    root = logging.getLogger()
    if _drop_labgrid_records not in root.filters:
        root.addFilter(_drop_labgrid_records)


class Coordinator:
    """A connection to a labgrid coordinator, every exchange under a deadline."""

    def __init__(self, address: str, timeout_s: float = COORDINATOR_TIMEOUT_S):
        import labgrid.remote.generated.labgrid_coordinator_pb2 as labgrid_coordinator_pb2
        from labgrid.remote.client import ClientSession

        self.address, self.timeout_s, self.pb2 = address, timeout_s, labgrid_coordinator_pb2
        _quiet_labgrid()
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)  # grpc's channel takes the current loop
        self.session = ClientSession(address=address, loop=self.loop)
        try:
            self._run(self.session.start(), "connect")
        except BaseException:
            self.close()
            raise

    def _run(self, step: Coroutine[Any, Any, T], doing: str) -> T:
        """One exchange, within the deadline. Interrupted (Ctrl-C), the exchange is cancelled before the interrupt
        goes on, so the loop is left with nothing pending."""
        from labgrid.remote.client import Error

        task = self.loop.create_task(asyncio.wait_for(step, self.timeout_s))
        try:
            return self.loop.run_until_complete(task)
        except TimeoutError:
            said = f"no answer within {self.timeout_s:g} s"
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {said}") from None
        except Error as exc:
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {' '.join(map(str, exc.args))}") from None
        except Exception as exc:  # grpc's AioRpcError and the like: the coordinator refused or went away
            details, code = getattr(exc, "details", None), getattr(exc, "code", None)
            said = details() if callable(details) else str(exc)
            status = getattr(code(), "name", None) if callable(code) else None
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {said}", status) from None
        except BaseException:
            task.cancel()
            with contextlib.suppress(BaseException):
                self.loop.run_until_complete(task)
            raise

    @property
    def holder(self) -> str:
        """The name this process acquires places in (`<host>/<user>`, as labgrid's client forms it)."""
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    def place(self, name: str) -> Any:
        place = self.session.places.get(name)
        if place is None:
            have = ", ".join(sorted(self.session.places)) or "none"
            raise LabError(f"labgrid coordinator {self.address} has no place '{name}' (it has: {have})")
        return place

    def refresh(self) -> None:
        """The coordinator's places and resources as they are now (its updates arrive over a stream)."""
        if not self._run(self.session.sync_with_coordinator(), "sync"):
            raise LabError(f"labgrid coordinator {self.address}: the connection was lost")

    def acquire(self, name: str) -> None:
        """Acquire the place; PlaceHeld when someone was first."""
        try:
            self._run(self.session.stub.AcquirePlace(self.pb2.AcquirePlaceRequest(placename=name)), f"acquire {name}")
        except LabError as exc:
            if exc.status not in ("FAILED_PRECONDITION", "PERMISSION_DENIED"):
                raise
            self.refresh()
            raise PlaceHeld(_held_by(self.place(name))) from None
        self.refresh()

    def release(self, name: str) -> None:
        """Release the place if this process's name holds it (the coordinator checks, in one step); LabError
        naming whoever holds it otherwise."""
        request = self.pb2.ReleasePlaceRequest(placename=name, fromuser=self.holder)
        self._run(self.session.stub.ReleasePlace(request), f"release {name}")
        self.refresh()
        holder = self.place(name).acquired
        if holder:
            raise LabError(f"place {name} is held by {holder}, not by {self.holder}: not released")

    def release_if_ours(self, name: str) -> None:
        """After an interrupted acquisition: give the place back if the coordinator had already given it."""
        with contextlib.suppress(LabError):
            self.refresh()
            if self.place(name).acquired == self.holder:
                self.release(name)

    def reserve(self, name: str) -> str:
        """A reservation of the place (labgrid's `reserve name=<place>`): its token."""
        request = self.pb2.CreateReservationRequest(
            filters={"main": self.pb2.Reservation.Filter(filter={"name": name})}, prio=0.0
        )
        response = self._run(self.session.stub.CreateReservation(request), f"reserve {name}")
        return response.reservation.token

    def allocated(self, token: str) -> bool:
        """Whether the reservation has its place (polling it also keeps it alive)."""
        from labgrid.remote.common import Reservation, ReservationState

        response = self._run(
            self.session.stub.PollReservation(self.pb2.PollReservationRequest(token=token)), "poll reservation"
        )
        state = Reservation.from_pb2(response.reservation).state
        if state in (ReservationState.expired, ReservationState.invalid):
            raise LabError(f"labgrid coordinator {self.address}: reservation {token} {state.name}")
        return state is not ReservationState.waiting

    def cancel(self, token: str) -> None:
        self._run(
            self.session.stub.CancelReservation(self.pb2.CancelReservationRequest(token=token)), "cancel reservation"
        )

    def serial_ports(self, name: str) -> dict[str, str]:
        """Resource name → URL of every exported serial port of a place this process holds."""
        from labgrid.remote.client import Error

        try:
            resources = self.session.get_target_resources(self.place(name))
        except Error as exc:
            raise LabError(f"place {name}: {' '.join(map(str, exc.args))}") from None
        ports = {}
        for (resource, cls), entry in sorted(resources.items()):
            if cls != SERIAL_CLASS:
                continue
            port = entry.args.get("port")
            if not entry.avail or not isinstance(port, int):
                raise LabError(f"place {name}: resource '{resource}' is not available (its exporter lost the port?)")
            ports[resource] = serial_url(entry.args["host"], port, entry.args.get("protocol", "rfc2217"))
        return ports

    def close(self) -> None:
        try:
            if getattr(self.session, "pump_task", None) is not None:
                self.loop.run_until_complete(asyncio.wait_for(self.session.stop(), self.timeout_s))
            self.loop.run_until_complete(asyncio.wait_for(self.session.close(), self.timeout_s))
        except Exception:  # noqa: BLE001 - closing a connection that went away already
            pass
        finally:
            self.loop.close()
            asyncio.set_event_loop(None)


def _held_by(place: Any) -> str:
    changed = datetime.fromtimestamp(place.changed, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if place.acquired:
        return f"place {place.name} is held by {place.acquired} (since {changed})"
    return f"place {place.name} is promised to another's labgrid reservation ({place.reservation})"


def acquire(coordinator: str, place: str, wait_s: float = 0.0) -> Acquisition:
    """Acquire the place and resolve its serial ports. Held by someone (or promised to another's reservation):
    PlaceHeld naming the holder, or, with wait_s, a reservation of its own waited on for up to that long (then
    PlaceHeld). However this ends (an interrupt included), a place it acquired and cannot hand over is given back."""
    lab = Coordinator(coordinator)
    try:
        found = lab.place(place)
        token = None
        if found.acquired or found.reservation:
            if wait_s <= 0:
                raise PlaceHeld(_held_by(found))
            token = _wait_for(lab, place, wait_s)
        try:
            lab.acquire(place)
            ports = lab.serial_ports(place)
        except BaseException:
            lab.release_if_ours(place)
            raise
        finally:
            if token is not None:  # after the acquisition, which the reservation's allocation allowed
                lab.cancel(token)
        return Acquisition(coordinator, place, lab.holder, ports, datetime.now(UTC).isoformat(timespec="seconds"))
    finally:
        lab.close()


def _wait_for(lab: Coordinator, place: str, wait_s: float) -> str:
    """A reservation of the place, once the coordinator has allocated it to this process: its token. PlaceHeld
    (the reservation cancelled) when wait_s pass first."""
    token = lab.reserve(place)
    deadline = time.monotonic() + wait_s
    try:
        while not lab.allocated(token):
            if time.monotonic() > deadline:
                lab.refresh()
                raise PlaceHeld(f"{_held_by(lab.place(place))}; waited {wait_s:g} s")
            time.sleep(POLL_S)
    except BaseException:
        with contextlib.suppress(LabError):
            lab.cancel(token)
        raise
    return token


def release(acquisition: Acquisition) -> None:
    """Release a place this process's name holds (`hil verify` does, after its pytest has ended)."""
    lab = Coordinator(acquisition.coordinator)
    try:
        lab.release(acquisition.place)
    finally:
        lab.close()


# The emulated bench's serial endpoints a labgrid exporter publishes (its CAN bus is a virtual one, not exported).
EXPORTED_ENDPOINTS = ("pump", "balance", "balance-lost", "control")
# The rate the exporter gives ser2net for a pty (which has none of its own). ser2net waits for more characters
# after each one it reads, up to 20 character times ("chardelay"), at least 1 ms; at 9600 baud that is 20 ms per
# reply, at 921600 its 1 ms floor (benchmarks/bench_lab.py).
EXPORTED_SPEED = 921600


def exporter_config(group: str, endpoints: dict[str, str]) -> str:
    """A labgrid exporter configuration (YAML, read as a Jinja template: comments are `##`) publishing an
    emulator's ptys as the resources of one group, each named after its endpoint."""
    lines = [
        "## The emulated bench, written by `hil emulate --labgrid-exporter`: run labgrid-exporter on this file.",
        f"{group}:",
    ]
    for name in EXPORTED_ENDPOINTS:
        lines += [
            f"  {name}:",
            "    cls: RawSerialPort",
            f"    port: {endpoints[name]}",
            f"    speed: {EXPORTED_SPEED}",
        ]
    return "\n".join(lines) + "\n"
