"""How every part of sockspec writes an address in text (reprs, logs, netstat)."""

from __future__ import annotations


def format_address(host: str | None, port: int | None) -> str:
    """Return ``host:port``, ``[v6]:port``, a path, ``@name`` or ``*``.

    ``None`` as *host* is the unbound ``*``; ``None`` as *port* is an
    ``AF_UNIX`` path, shown as is, or a Linux abstract name (leading NUL),
    shown with ``@`` as ``ss`` and ``netstat`` do.
    """
    if host is None:
        return "*"
    if port is None:
        return "@" + host[1:] if host.startswith("\0") else host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
