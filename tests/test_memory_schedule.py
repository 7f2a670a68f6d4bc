"""The seeded schedule (``Network(schedule="seeded")``): one thread at a time
between network operations, the next drawn from the seed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sockspec import Socket
from sockspec.backends.memory import Network

SCENARIO = Path(__file__).with_name("determinism_scenario.py")


def run_scenarios(seeds: list[int]) -> list[str]:
    """Run the scenario once per seed, each in a fresh process, all at once."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCENARIO), str(seed), "seeded"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in seeds
    ]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        outputs.append(out)
    return outputs


def test_same_seed_same_event_log_in_20_processes_under_load() -> None:
    # One core kept busy by another process, and 20 scenarios competing for
    # the rest: the OS schedules the threads differently in every process.
    burner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.time() + 120\nwhile time.time() < end: pass",
        ]
    )
    try:
        outputs = run_scenarios([7] * 20)
    finally:
        burner.kill()
        burner.wait(timeout=10)
    assert "connect" in outputs[0]
    assert "drop" in outputs[0]  # faults happened
    assert "notes: []" in outputs[0]
    assert len(set(outputs)) == 1, "the same seed gave different runs"
    different = run_scenarios([1, 2, 3, 4, 5])
    assert len(set(different)) == 5, "different seeds gave the same run"


def test_a_thread_the_network_cannot_see_is_noted_never_waited_for() -> None:
    net = Network(seed=1, schedule="seeded")
    lst = Socket(backend=net, timeout=5)
    lst.bind("127.0.0.1", 7000)
    lst.listen()

    def sleeper() -> None:
        with Socket(backend=net, timeout=5) as c:
            c.connect("127.0.0.1", 7000)
            # Holds the turn where the network cannot see it, until the
            # schedule gives up waiting for it (bounded).
            give_up = time.monotonic() + 30
            while not net.schedule_notes and time.monotonic() < give_up:
                time.sleep(0.05)
            c.send(b"late")

    t = threading.Thread(target=sleeper, name="sleeper")
    t.start()
    conn = lst.accept()
    other = Socket(backend=net, timeout=5)  # needs the turn: waits, then notes
    other.close()
    assert conn.receive(10) == b"late"
    t.join(10)
    conn.close()
    lst.close()
    notes = net.schedule_notes
    assert notes, "the sleeping turn holder was not noted"
    assert "'sleeper'" in notes[0]
    assert "sleep" in notes[0]


def test_schedule_is_free_or_seeded() -> None:
    assert Network(seed=1).schedule == "free"
    assert Network(seed=1).schedule_notes == []
    with pytest.raises(ValueError, match="schedule must be 'free' or 'seeded'"):
        Network(schedule="random")
