"""Finalizers that close memory sockets while the network's lock is held.

A cyclic garbage collection can start at any allocation, also one sockspec
makes while it holds the network's lock, and it runs the finalizers of what
it frees in that same thread (``__del__``, ``weakref.finalize``: urllib3
closes a pool's connections that way).  A finalizer that closes a socket of
the same network must not wait for that lock forever.
"""

from __future__ import annotations

import gc
import sys
import threading
import weakref

import sockspec
from sockspec.backends.memory import Network


class _Pool:
    """Holds a socket and closes it when collected, as urllib3's pools do."""

    def __init__(self, sock: sockspec.Socket) -> None:
        self.me = self  # a cycle: only the collector frees it
        weakref.finalize(self, sock.close)


def test_a_collected_pool_closing_its_socket_inside_a_locked_call_does_not_hang() -> (
    None
):
    network = Network(seed=5)
    listener = sockspec.Socket(backend=network)
    listener.bind("127.0.0.1", 80)
    listener.listen(8)
    pooled = sockspec.Socket(backend=network, timeout=5)
    pooled.connect("127.0.0.1", 80)
    peer = listener.accept()
    peer.timeout = 5
    _Pool(pooled)  # garbage at once, freed by the next collection
    done = threading.Event()
    errors: list[BaseException] = []

    lock = network._sched.lock
    fired: list[bool] = []

    def collect_inside(frame: object, event: str, arg: object) -> None:
        # The first Python call made while the network's lock is held (only
        # this thread uses the network now) is where the collection starts.
        if event == "call" and not fired and lock.locked():
            fired.append(True)
            gc.collect()

    def work() -> None:
        sys.setprofile(collect_inside)
        try:
            client = sockspec.Socket(backend=network, timeout=5)
            client.connect("127.0.0.1", 80)
            sys.setprofile(None)
            listener.accept().close()
            client.close()
        except BaseException as exc:
            errors.append(exc)
        finally:
            sys.setprofile(None)
            done.set()

    # A daemon: if the close deadlocks, the test fails instead of the run
    # hanging at exit.
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    assert done.wait(10), "a finalizer's close() deadlocked the network"
    worker.join(5)
    assert fired
    assert not errors
    # The pooled connection did close: its peer reads the end of the stream.
    assert peer.receive(10) == b""
    peer.close()
    listener.close()
    network.close()
