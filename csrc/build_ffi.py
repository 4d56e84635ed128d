"""cffi build script (out-of-line API mode): compiles csrc/*.c into ``mywire._cwire``.

The cdef is ``mywire_api.h`` itself minus the lines cffi cannot parse, so the header the
C code includes and the ABI Python sees cannot drift apart.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SOURCES = sorted(str(p.relative_to(HERE.parent)) for p in HERE.glob("mw_*.c"))


def cdef_text() -> str:
    text = (HERE / "mywire_api.h").read_text()
    text = re.sub(r"/\* MW_CDEF_SKIP_BEGIN \*/.*?/\* MW_CDEF_SKIP_END \*/", "", text, flags=re.S)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


extra_compile_args = ["-std=c99", "-O3", "-Wall", "-Wextra", "-Wconversion", "-Wno-sign-conversion"]
if os.environ.get("MYWIRE_SANITIZE"):
    # ASan/UBSan build for fuzzing runs (needs LD_PRELOAD of the runtime when loaded).
    extra_compile_args += ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"]

ffibuilder = FFI()
ffibuilder.cdef(cdef_text())
ffibuilder.set_source(
    "mywire._cwire",
    '#include "mywire_api.h"',
    sources=SOURCES,
    include_dirs=[str(HERE.relative_to(HERE.parent))],
    extra_compile_args=extra_compile_args,
    extra_link_args=["-fsanitize=address,undefined"] if os.environ.get("MYWIRE_SANITIZE") else [],
    py_limited_api=True,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
