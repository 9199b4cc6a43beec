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


class PlaceHeld(LabError):
    """The place is acquired by someone (another engineer, or another run of this user)."""


@dataclass(frozen=True)
class Acquisition:
    """A place held for a run: by whom, and its serial resources as pyserial URLs."""

    coordinator: str
    place: str
    holder: str  # "<host>/<user>", labgrid's name for whoever acquired it
    ports: dict[str, str]  # resource name → rfc2217:// URL
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


def rfc2217_url(host: str, port: int) -> str:
    """pyserial's URL of an exported port. ser2net answers RFC 2217's modem-control commands with values pyserial
    does not expect back: `ign_set_control` (pyserial's option for that) accepts them."""
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
        from labgrid.remote.client import Error

        try:
            return self.loop.run_until_complete(asyncio.wait_for(step, self.timeout_s))
        except TimeoutError:
            said = f"no answer within {self.timeout_s:g} s"
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {said}") from None
        except Error as exc:
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {' '.join(map(str, exc.args))}") from None
        except Exception as exc:  # grpc's AioRpcError and the like: the coordinator refused or went away
            details = getattr(exc, "details", None)
            said = details() if callable(details) else str(exc)
            raise LabError(f"labgrid coordinator {self.address}: {doing}: {said}") from None

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
        self._run(self.session.sync_with_coordinator(), "sync")

    def acquire(self, name: str) -> None:
        self._run(self.session.stub.AcquirePlace(self.pb2.AcquirePlaceRequest(placename=name)), f"acquire {name}")
        self.refresh()

    def release(self, name: str) -> None:
        self._run(self.session.stub.ReleasePlace(self.pb2.ReleasePlaceRequest(placename=name)), f"release {name}")

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
            if not entry.avail:
                raise LabError(f"place {name}: resource '{resource}' is not available (its exporter lost the port?)")
            ports[resource] = rfc2217_url(entry.args["host"], int(entry.args["port"]))
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
    since = datetime.fromtimestamp(place.changed, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"place {place.name} is held by {place.acquired} (since {since})"


def acquire(coordinator: str, place: str, wait_s: float = 0.0) -> Acquisition:
    """Acquire the place and resolve its serial ports. Held by someone: PlaceHeld naming the holder, or, with
    wait_s, a reservation waited on for up to that long (then PlaceHeld)."""
    lab = Coordinator(coordinator)
    try:
        found = lab.place(place)
        if found.acquired:
            if wait_s <= 0:
                raise PlaceHeld(_held_by(found))
            _wait_for(lab, place, wait_s)
        lab.acquire(place)
        try:
            ports = lab.serial_ports(place)
        except BaseException:
            lab.release(place)
            raise
        return Acquisition(coordinator, place, lab.holder, ports, datetime.now(UTC).isoformat(timespec="seconds"))
    finally:
        lab.close()


def _wait_for(lab: Coordinator, place: str, wait_s: float) -> None:
    token = lab.reserve(place)
    deadline = time.monotonic() + wait_s
    try:
        while not lab.allocated(token):
            if time.monotonic() > deadline:
                lab.refresh()
                raise PlaceHeld(f"{_held_by(lab.place(place))}; waited {wait_s:g} s")
            time.sleep(POLL_S)
    finally:
        lab.cancel(token)


def release(acquisition: Acquisition) -> None:
    """Release a place this process's name holds (`hil verify` does, after its pytest has ended)."""
    lab = Coordinator(acquisition.coordinator)
    try:
        found = lab.place(acquisition.place)
        if found.acquired != acquisition.holder:
            raise LabError(
                f"place {acquisition.place} is no longer held by {acquisition.holder}"
                + (f" but by {found.acquired}" if found.acquired else "")
                + ": not released"
            )
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
