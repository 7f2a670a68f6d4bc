"""A multi-threaded scenario on the memory network, for the determinism proof.

Run as ``python determinism_scenario.py SEED [SCHEDULE]``: prints the event
log and the outcome.  Without SCHEDULE the network is made as a user makes
it, ``Network(seed=SEED)``: the default schedule is the one on trial.  Six
threads -- a TCP server, two TCP clients, a UDP registry and two UDP
announcers -- under jittery latency and 50% datagram loss.
"""

from __future__ import annotations

import sys
import threading

from sockspec import SOCK_DGRAM, Socket, Timeout
from sockspec.backends.memory import Latency, Loss, Network, Uniform


def run(seed: int, schedule: str | None = None) -> str:
    net = Network(seed=seed) if schedule is None else Network(seed, schedule=schedule)
    net.add_host("server", "10.0.0.2")
    net.add_host("a", "10.0.0.3")
    net.add_host("b", "10.0.0.4")
    net.add_rule(Latency(Uniform(0.001, 0.2)))
    net.add_rule(Loss(0.5))
    results: list[str] = []
    lock = threading.Lock()

    def note(text: str) -> None:
        with lock:
            results.append(text)

    lst = Socket(backend=net.host("server"), timeout=5)
    lst.bind("10.0.0.2", 7000)
    lst.listen(8)
    reg = Socket(type=SOCK_DGRAM, backend=net.host("server"), timeout=2)
    reg.bind("10.0.0.2", 5353)

    def server() -> None:
        for _ in range(2):
            conn = lst.accept()
            with conn:
                data = conn.receive(100)
                conn.send(data.upper())

    def registry() -> None:
        for _ in range(6):
            try:
                dgram = reg.receive_from(100)
            except Timeout:
                note("registry: timeout")
                return
            note(f"registry: {dgram.data!r} from {dgram.address}:{dgram.port}")

    def announcer(name: str, host: str) -> None:
        with Socket(type=SOCK_DGRAM, backend=net.host(host), timeout=1) as sock:
            for i in range(3):
                sock.send_to("10.0.0.2", 5353, f"{name}{i}".encode())
                net.sleep(0.05)

    def client(name: str, host: str) -> None:
        with Socket(backend=net.host(host), timeout=5) as sock:
            sock.connect("10.0.0.2", 7000)
            sock.send(name.encode())
            note(f"client {name}: {sock.receive(100)!r} port {sock.local_port}")

    threads = [
        threading.Thread(target=server, name="server"),
        threading.Thread(target=registry, name="registry"),
        threading.Thread(target=announcer, args=("x", "a"), name="announce-a"),
        threading.Thread(target=announcer, args=("y", "b"), name="announce-b"),
        threading.Thread(target=client, args=("alpha", "a"), name="client-a"),
        threading.Thread(target=client, args=("beta", "b"), name="client-b"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    lst.close()
    reg.close()
    notes = net.schedule_notes
    return "\n".join(
        [net.format_events(), *results, f"notes: {notes}", f"t={net.now:.6f}"]
    )


if __name__ == "__main__":
    print(run(int(sys.argv[1]), *sys.argv[2:3]))
