"""Backend selection: mywire.backend, MYWIRE_PURE and MYWIRE_REQUIRE_C.

``mywire.backend`` is fixed at import; the ``backend`` fixture only swaps
``mywire._backend.IMPL`` for the duration of a test, so these tests look at the
import-time choice and at fresh interpreters.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import mywire
import mywire._backend

from helpers import c_required, pure_forced


def run_python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("MYWIRE_PURE",)}
    environ.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def test_backend_is_c_or_python() -> None:
    assert mywire.backend in ("c", "python")
    assert mywire.backend == mywire._backend.BACKEND
    if pure_forced():
        assert mywire.backend == "python"
    else:
        assert mywire.backend == ("c" if mywire._backend.load_c() is not None else "python")


def test_fixture_swaps_the_implementation(backend: str) -> None:
    expected = mywire._backend.PURE if backend == "python" else mywire._backend.load_c()
    assert mywire._backend.IMPL is expected


def test_c_backend_required() -> None:
    """Fails when MYWIRE_REQUIRE_C=1 and the C core is not what mywire uses."""
    if not c_required():
        pytest.skip("MYWIRE_REQUIRE_C is not 1")
    if pure_forced():
        # The python backend is selected on purpose; the C core must still be built.
        assert mywire._backend.load_c() is not None, "MYWIRE_REQUIRE_C=1: C core not built"
        return
    assert mywire.backend == "c", f"MYWIRE_REQUIRE_C=1 but mywire.backend is {mywire.backend!r}"


def test_mywire_pure_forces_python_in_a_fresh_interpreter() -> None:
    out = run_python("import mywire; print(mywire.backend)", MYWIRE_PURE="1")
    assert out == "python"


def test_without_mywire_pure_a_fresh_interpreter_uses_c_when_built() -> None:
    expected = "c" if mywire._backend.load_c() is not None else "python"
    assert run_python("import mywire; print(mywire.backend)") == expected
    assert run_python("import mywire; print(mywire.backend)", MYWIRE_PURE="0") == expected
    assert run_python("import mywire; print(mywire.backend)", MYWIRE_PURE="") == expected
