"""Socket options: each one the backend declares round-trips."""

from __future__ import annotations

from ...api import _validate
from ...api.constants import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    FLAG_OPTIONS,
    IPV6_V6ONLY,
    SIZE_OPTIONS,
    SO_LINGER,
    SOCK_DGRAM,
    SOCK_STREAM,
    TCP_NODELAY,
    Option,
)
from ...api.errors import UnsupportedOperation
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
    """Every declared option reads back what was set, on every socket kind."""
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
                    continue
                try:
                    sock.get_option(option)
                except UnsupportedOperation:
                    pass
                else:
                    raise AssertionError(
                        f"{option.name} on {family.name} {type.name} was accepted"
                    )
    if not tried:
        h.skip(f"backend {h.backend.name!r} declares no options")


@check(
    group="options",
    families=[AF_INET6],
    options=[IPV6_V6ONLY],
    cross=False,
    spec=["setOption / Set socket option value to socket option name"],
)
def option_refused_when_unsupported(h: Harness) -> None:
    """An option the backend lacks is UnsupportedOperation, not silence."""
    caps = h.backend.capabilities
    missing = [o for o in Option if o not in caps.options]
    sock = h.socket(AF_INET6)
    for option in missing:
        try:
            sock.set_option(option, True if option in FLAG_OPTIONS else 1)
        except UnsupportedOperation:
            continue
        raise AssertionError(f"undeclared option {option.name} was accepted")
    with h.socket(AF_INET) as v4:
        for option in (IPV6_V6ONLY,):
            try:
                v4.set_option(option, True)
            except UnsupportedOperation:
                continue
            raise AssertionError("IPV6_V6ONLY on an AF_INET socket was accepted")
    if TCP_NODELAY in caps.options and SOCK_DGRAM in caps.types:
        with (
            h.socket(AF_INET, SOCK_DGRAM) as udp,
            h.raises(
                UnsupportedOperation, "TCP_NODELAY on a datagram socket was accepted"
            ),
        ):
            udp.set_option(TCP_NODELAY, True)
