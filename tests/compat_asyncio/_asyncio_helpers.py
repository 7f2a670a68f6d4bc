"""Helpers shared by the asyncio tests."""

from __future__ import annotations

import ssl

import pytest


def need_descriptors(count: int) -> None:
    """Raise the soft descriptor limit to *count* (up to the hard one), or skip.

    A compat socket holds a real descriptor (an open ``/dev/null``) for its
    number, and on the OS backends a real socket besides: a thousand
    connections, both ends, need thousands of descriptors, more than the
    usual soft limit of 1,024.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= count:
        return
    if hard != resource.RLIM_INFINITY and hard < count:
        pytest.skip(f"needs {count} descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``localhost`` from a new
    trustme CA, and a client context trusting that CA (skips without
    trustme)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx
