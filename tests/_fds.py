"""Counting the process's file descriptors, for the no-leak checks."""

from __future__ import annotations

import os


def open_fds() -> int:
    """Number of file descriptors this process holds.

    Less the files under ``/proc`` that are open for a moment: the memory
    network's seeded schedule reads a thread's state there from another
    thread (``_proc.py``), and a count taken meanwhile would see one more.
    """
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor too)
        if not target.startswith("/proc/"):
            count += 1
    return count
