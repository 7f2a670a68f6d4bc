"""The built-in backends, each a pluggy plugin loaded like a third-party one.

* :mod:`sockspec.backends.selectors` -- non-blocking OS sockets whose waits
  happen in ``poll(2)``;
* :mod:`sockspec.backends.stdlib` -- the same socket implementation, offered
  under the name of the :mod:`socket` module it replaces;
* :mod:`sockspec.backends.memory` -- a simulated network with virtual time
  and faults.

The shared OS-socket code lives in :mod:`sockspec.backends._os`.
"""
