"""The sockspec error hierarchy (see :mod:`sockspec.api.errors`)."""

from .api.errors import *  # noqa: F403
from .api.errors import __all__ as __all__
