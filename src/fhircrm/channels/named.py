"""Load a part the channel layer names by import path (``"package.module:ATTRIBUTE"``), on first use.

Providers and reply readers are named this way because their packages send through channels: taking a message
in can queue one out, and a survey sends its invitation through channels. Importing them here at import time
would make channels depend on the packages built on it.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TypeVar

T = TypeVar("T")


@cache
def _attribute(module: str, attribute: str) -> object:
    return getattr(importlib.import_module(module), attribute)


def load(path: str, kind: type[T], default: str) -> T:
    """The object at ``path`` (``default`` when the path names no attribute), checked to be a ``kind``."""
    module, _, attribute = path.partition(":")
    found = _attribute(module, attribute or default)
    if not isinstance(found, kind):
        raise TypeError(f"{path} is not a {kind.__name__}")
    return found
