"""Regenerate the TEST-ONLY certificates the conformance suite's TLS checks use.

Run from this directory with the ``test`` extra installed (it needs
``trustme``)::

    python make_certs.py

The files are committed so that ``sockspec check`` runs the TLS checks on a
user's machine without ``trustme``: a test CA (``ca.pem``), a server
certificate for ``localhost``, ``127.0.0.1``, ``::1`` and
``tls.sockspec.test`` signed by it (``server.pem``: key and chain), and a
client certificate for ``client.sockspec.test`` (``client.pem``).  They are
valid until the year 3000 and their private keys are public: never trust
``ca.pem`` outside a test.
"""

from __future__ import annotations

from pathlib import Path

import trustme

HERE = Path(__file__).resolve().parent
WARNING = (
    b"# TEST ONLY: sockspec conformance suite. The private key is public.\n"
    b"# Regenerate with make_certs.py in this directory.\n"
)


def main() -> None:
    """Write ca.pem, server.pem and client.pem next to this script."""
    ca = trustme.CA(organization_name="sockspec conformance TEST CA")
    server = ca.issue_cert("localhost", "127.0.0.1", "::1", "tls.sockspec.test")
    client = ca.issue_cert("client.sockspec.test")
    (HERE / "ca.pem").write_bytes(WARNING + ca.cert_pem.bytes())
    for name, cert in (("server.pem", server), ("client.pem", client)):
        chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
        (HERE / name).write_bytes(WARNING + cert.private_key_pem.bytes() + chain)


if __name__ == "__main__":
    main()
