"""Shared fixtures: every test on both backends, hypothesis profiles, the MariaDB DSN.

Backends
    The autouse ``backend`` fixture is parametrised over ``"c"`` and ``"python"`` and swaps
    ``mywire._backend.IMPL`` through ``monkeypatch`` (the library reads it when a function
    is called or a reader is constructed), so each test runs once per backend with no
    duplicated code.  A test that wants to know which backend is active requests
    ``backend``.  The C run is skipped when the extension is not built, or *fails* when
    ``MYWIRE_REQUIRE_C=1``; ``MYWIRE_PURE=1`` runs the python parameter only.  A module
    can pin the parameter with ``pytest.mark.parametrize("backend", [...], indirect=True)``
    (test_differential.py does, since it calls both backends itself).

Hypothesis
    Profiles ``default`` (100 examples), ``ci`` (200, no deadline, blobs printed) and
    ``thorough`` (10,000, no deadline), ``sanitize`` (200, no deadline or health checks,
    for the ASan build), chosen by ``HYPOTHESIS_PROFILE``; when that is
    unset, ``CI=true`` selects ``ci``.  Property tests do not take function-scoped
    fixtures as arguments (the autouse ``backend`` fixture does not count: its state is
    the same for every example), so the function_scoped_fixture health check stays on.

MariaDB
    ``mariadb_dsn`` parses ``MYWIRE_TEST_DSN`` (default
    ``mysql://root@127.0.0.1:3306/test``) and checks that something listens there; if
    not, the test fails under ``CI=true`` and is skipped otherwise.
"""

from __future__ import annotations

import os
import socket
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

import mywire._backend

from helpers import DEFAULT_DSN, Dsn, c_required, parse_dsn, pure_forced

BACKENDS = ("c", "python")

settings.register_profile("default", max_examples=100)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=False, print_blob=True)
settings.register_profile("thorough", max_examples=10_000, deadline=None)
# Under ASan/UBSan (tools/sanitize_check.sh) everything runs several times slower; the
# point there is memory safety, not generation speed.
settings.register_profile(
    "sanitize", max_examples=200, deadline=None, suppress_health_check=list(HealthCheck)
)


def _profile_name() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE", "")
    if name:
        return name
    return "ci" if os.environ.get("CI") == "true" else "default"


settings.load_profile(_profile_name())


def pytest_report_header() -> list[str]:
    c = mywire._backend.load_c()
    return [
        f"mywire: import-time backend {mywire._backend.BACKEND!r}, "
        f"C extension {'built' if c is not None else 'NOT built'}, "
        f"MYWIRE_PURE={os.environ.get('MYWIRE_PURE', '')!r}, "
        f"MYWIRE_REQUIRE_C={os.environ.get('MYWIRE_REQUIRE_C', '')!r}, "
        f"hypothesis profile {_profile_name()!r}"
    ]


def select_backend(name: str) -> ModuleType:
    """The backend module for a parameter value, or skip/fail the test if unavailable."""
    if name == "python":
        return mywire._backend.PURE
    if name != "c":
        raise ValueError(f"unknown backend parameter {name!r}")
    if pure_forced():
        pytest.skip("MYWIRE_PURE=1: only the python backend runs")
    impl = mywire._backend.load_c()
    if impl is None:
        if c_required():
            pytest.fail("MYWIRE_REQUIRE_C=1 but the C extension mywire._cwire is not built")
        pytest.skip("the C extension mywire._cwire is not built")
    return impl


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with ``mywire._backend.IMPL`` set to this backend; return its name."""
    name: str = request.param
    monkeypatch.setattr(mywire._backend, "IMPL", select_backend(name))
    return name


@pytest.fixture(scope="session")
def mariadb_dsn() -> Dsn:
    """The test server's DSN; fail (CI=true) or skip when nothing listens there."""
    dsn = parse_dsn(os.environ.get("MYWIRE_TEST_DSN", DEFAULT_DSN))
    try:
        with socket.create_connection((dsn.host, dsn.port), timeout=5.0):
            pass
    except OSError as exc:
        message = f"MariaDB server at {dsn.host}:{dsn.port} not reachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return dsn
