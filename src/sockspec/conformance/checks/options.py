"""Socket options: each one the backend declares round-trips."""

from __future__ import annotations

from ...api import _validate
from ...api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    FLAG_OPTIONS,
    SIZE_OPTIONS,
    SO_LINGER,
    SOCK_DGRAM,
    SOCK_STREAM,
    Option,
)
from ...api.socket import Socket
from ..core import check
from ..harness import Harness


def _round_trip(sock: Socket, option: Option) -> None:
    if option in FLAG_OPTIONS:
        for flag in (True, False, True):
            sock.setOption(option, flag)
            got = sock.getOption(option)
            assert got is flag, f"{option.name}: set {flag}, got {got!r}"
    elif option in SIZE_OPTIONS:
        for size in (65536, 131072):
            sock.set_option(option, size)
            got = sock.get_option(option)
            # The OS may round a buffer size up (Linux doubles it).
            assert isinstance(got, int), f"{option.name}: {got!r}"
            assert got >= size, f"{option.name}: set {size}, got {got}"
    elif option is SO_LINGER:
        for linger in (5, 0, None):
            sock.set_option(option, linger)
            got = sock.get_option(option)
            assert got == linger, f"SO_LINGER: set {linger!r}, got {got!r}"


@check(
    group="options",
    cross=False,
    any_family=True,
    types=[SOCK_STREAM, SOCK_DGRAM],
    any_type=True,
    spec=[
        "setOption( option, value)",
        "setOption / Set socket option value to socket option name",
        "getOption()",
        "getOption / Get socket option value, option should be socket option name",
    ],
)
def options_round_trip(h: Harness) -> None:
    """Every declared option reads back what was set, on every socket kind.

    Only the options that apply to a kind reach the backend; the facade
    refuses the others itself (tested once, in the API tests).
    """
    caps = h.backend.capabilities
    tried = 0
    for family in (AF_INET, AF_INET6, AF_UNIX):
        for type in (SOCK_STREAM, SOCK_DGRAM):
            if family not in caps.families or type not in caps.types:
                continue
            sock = h.socket(family, type)
            for option in sorted(caps.options, key=lambda o: o.name):
                if _validate.option_applies(option, family, type):
                    _round_trip(sock, option)
                    tried += 1
    if not tried:
        h.skip(f"backend {h.backend.name!r} declares no options")
