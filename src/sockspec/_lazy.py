"""Package attributes imported on first use (PEP 562).

``sockspec`` and ``sockspec.api`` name the facade and the registry among
their exports, but importing them would load the backends' machinery (and
make ``sockspec.api.backend`` depend on the facade).  Each package lists
such names with the module that defines them and gets its ``__getattr__``
and ``__dir__`` from :func:`lazy_attributes`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names: Mapping[str, str], namespace: dict[str, object]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for *names*.

    :param package: the package's ``__name__``, the anchor of relative modules.
    :param names: attribute name -> module that defines it (may be relative).
    :param namespace: the package's ``globals()``; the first access of a name
        stores its value there, so later accesses are plain lookups.
    """

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
