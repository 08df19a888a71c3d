"""The Ray cluster the Ray strategy uses: one per process, connected on first use."""

from __future__ import annotations

import importlib
import ipaddress
import socket
import threading
from types import ModuleType
from typing import Any

from routilux._install import install_command
from routilux.exceptions import ExecutionError

__all__ = ["RayCluster", "import_ray"]

#: Ray keeps one connection per process: connecting is serialised here.
_CONNECT_LOCK = threading.Lock()
#: The address this process's connection was made with, as a flow gave it, and the
#: cluster it reached (its GCS address), while that connection lasts (under the lock).
_CONNECTED_WITH: dict[str, str] = {}
#: Seconds ``ray.init`` may take (a local cluster starts in 2 to 10 s).
START_TIMEOUT = 120.0
#: Seconds to open a TCP connection to a cluster's address, before ``ray.init``.
PROBE_TIMEOUT = 10.0


def import_ray() -> ModuleType:
    """The ``ray`` module.

    Raises:
        ExecutionError: Ray is not installed; the message names the command.
    """
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ExecutionError(
            'The "ray" execution strategy needs Ray, which is not installed: '
            f"{install_command('ray')}"
        ) from exc


class RayCluster:
    """This process's connection to Ray, and the remote function and actor class it uses.

    ``connect(address)`` starts a local cluster (``address`` ``None``) or
    connects to ``address``, unless Ray is connected already, by this
    process's own code or an earlier flow: then that connection is used
    (Ray allows one per process), and an ``address`` that names another
    cluster is an error.
    """

    def __init__(self) -> None:
        self.ray: Any = None
        self.task: Any = None
        self.actor_cls: Any = None

    def connect(self, address: str | None) -> None:
        """Connect to Ray (see the class); make the remote function and actor class once."""
        ray = import_ray()
        with _CONNECT_LOCK:
            if not ray.is_initialized():
                _probe(address)
                _start(ray, address)
                _CONNECTED_WITH.clear()
                if address is not None:
                    _CONNECTED_WITH[address] = _gcs_address(ray)
            elif address not in (None, "auto"):
                _check_same_cluster(ray, address)
            if self.task is None:
                from routilux._engine.ray_remote import RoutineActor, run_call

                # Ray's own retries off: the routine's error policy decides.
                self.task = ray.remote(max_retries=0, retry_exceptions=False)(run_call)
                self.actor_cls = ray.remote(max_restarts=0, max_task_retries=0)(RoutineActor)
            self.ray = ray


def _gcs_address(ray: Any) -> str:
    """The address of the cluster this process is connected to (empty if Ray does not say)."""
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # Ray Client's connections may not tell.
        return ""


def _check_same_cluster(ray: Any, address: str) -> None:
    """Refuse ``address`` if this process is connected to another cluster.

    It is the same cluster if this process connected with ``address`` (and
    is still connected to what it reached), or if ``address`` names the
    cluster's GCS address (:func:`_same_endpoint`).
    """
    connected = _gcs_address(ray)
    if _CONNECTED_WITH.get(address) == connected:
        return
    if not _same_endpoint(address.removeprefix("ray://"), connected, ray):
        raise ExecutionError(
            f"This process is connected to the Ray cluster at {connected}, and Ray allows "
            f"one cluster per process; a flow cannot use ray_address={address!r} too."
        )


def _same_endpoint(given: str, connected: str, ray: Any) -> bool:
    """Whether ``given`` (``host:port``) names ``connected``, the ``ip:port`` Ray connected to.

    The ports match, and the host is that address, resolves to it, or is a
    loopback address while the cluster runs on this machine (Ray connects
    ``127.0.0.1:port`` as this node's own address).
    """
    host, _, port = given.rpartition(":")
    connected_host, _, connected_port = connected.rpartition(":")
    if not host or port != connected_port or not port.isdigit():
        return False
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host.strip("[]"), int(port))}
    except OSError:  # A name that does not resolve names no cluster we are connected to.
        return False
    connected_host = connected_host.strip("[]")
    if connected_host in found:
        return True
    here = {str(ray.util.get_node_ip_address()), "127.0.0.1", "::1"}
    return connected_host in here and any(_is_loopback(ip) for ip in found)


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:  # An IPv6 address with a scope (fe80::1%eth0) is not a loopback one.
        return False


def _probe(address: str | None) -> None:
    """Refuse at once an address where nothing listens.

    Ray itself retries an unreachable cluster for minutes (each attempt
    waits 5 s for a connection and 30 s for an answer), which START_TIMEOUT
    would cut only after two minutes: one TCP connection, bounded by
    PROBE_TIMEOUT, tells most mistakes (a wrong host or port, a cluster that
    is not running) at once. ``None``, ``"auto"`` and addresses without a
    port are left to Ray.

    Raises:
        ExecutionError: Nothing accepts a connection at the address.
    """
    if address is None:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # An IPv6 address: [::1]:6379.
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT).close()
    except OSError as exc:
        reason = "no answer in time" if isinstance(exc, TimeoutError) else exc.strerror or exc
        raise ExecutionError(
            f"Could not reach the Ray cluster at {address!r}: nothing accepts connections at "
            f"{host}:{port} ({reason}). Check that the cluster runs and the address is its "
            "head's: host:6379 (its GCS, as 'ray start --head' prints it) or ray://host:10001 "
            "(Ray Client)."
        ) from exc


def _start(ray: Any, address: str | None) -> None:
    """``ray.init`` on a thread that lives as long as this process, bounded by START_TIMEOUT.

    A local cluster's processes are killed when the thread that started them
    exits (Ray ties them to it), so that thread never exits; and a cluster
    that cannot start fails the job with this error instead of hanging it.

    Raises:
        ExecutionError: Ray did not start, or not in time.
    """
    done = threading.Event()
    failure: list[BaseException] = []

    def keep() -> None:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=True)
        except BaseException as exc:  # Handed to the thread that waits below.
            failure.append(exc)
        done.set()
        if not failure:
            threading.Event().wait()  # Ray's processes live as long as this thread.

    threading.Thread(target=keep, name="routilux-ray", daemon=True).start()
    where = "a local Ray cluster" if address is None else f"the Ray cluster at {address!r}"
    if not done.wait(START_TIMEOUT):
        raise ExecutionError(f"Could not start or reach {where} within {START_TIMEOUT:.0f} s.")
    if failure:
        raise ExecutionError(f"Could not start or reach {where}: {failure[0]}") from failure[0]
