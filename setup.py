"""Build script: all metadata lives in pyproject.toml; this only wires in the cffi module.

The C core is optional at install time (the package runs on its pure-Python backend
without it) unless MYWIRE_REQUIRE_C=1 or CIBUILDWHEEL=1, when a failed build is fatal.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


def _required() -> bool:
    return os.environ.get("MYWIRE_REQUIRE_C") == "1" or os.environ.get("CIBUILDWHEEL") == "1"


class optional_build_ext(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            self._fail(exc)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        if _required():
            raise
        sys.stderr.write(
            f"WARNING: mywire's C core failed to build ({exc}); "
            "installing the pure-Python backend only.\n"
        )


skip_c = os.environ.get("MYWIRE_PURE_INSTALL") == "1" or sys.implementation.name != "cpython"

setup(
    cffi_modules=[] if skip_c else ["csrc/build_ffi.py:ffibuilder"],
    cmdclass={"build_ext": optional_build_ext},
)
