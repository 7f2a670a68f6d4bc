"""The built-in backends, each a pluggy plugin loaded like a third-party one.

* :mod:`sockspec.backends.stdlib` -- blocking OS sockets.
"""
