"""The one place where the implementation is chosen.

``MYWIRE_PURE=1`` forces the pure-Python backend; otherwise the compiled cffi module is
used when it imports.  The choice is made once, at import; nothing in the library toggles
it afterwards.  (The test suite swaps ``IMPL`` through pytest's ``monkeypatch`` to run
every test on both backends; library code only ever reads it.)
"""

from __future__ import annotations

import os
from types import ModuleType

from . import _pycore

__all__ = ["BACKEND", "IMPL", "PURE", "load_c"]

PURE: ModuleType = _pycore


def load_c() -> ModuleType | None:
    """Return the C backend module, or None when the extension is not built."""
    try:
        from . import _ccore
    except ImportError:
        return None
    return _ccore


def _select() -> tuple[ModuleType, str]:
    if os.environ.get("MYWIRE_PURE", "") not in ("", "0"):
        return _pycore, "python"
    c = load_c()
    if c is None:
        return _pycore, "python"
    return c, "c"


IMPL, BACKEND = _select()
