"""String lint over csrc/: cheap C hygiene the compiler does not enforce (msgspec's idea).

The C core promises: no global mutable state, no allocation (the caller owns every
buffer), no I/O, no Python objects, and one header (mywire_api.h) that is both the C
prototypes and the cffi cdef.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"
C_FILES = sorted(CSRC.glob("*.c")) + sorted(CSRC.glob("*.h"))


def _code(path: Path) -> str:
    """Source without comments and string literals, so prose cannot trip the lint."""
    text = path.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def test_there_is_c_to_lint() -> None:
    names = {p.name for p in C_FILES}
    assert {"mywire_api.h", "mw_reader.h", "mw_codec.c", "mw_frame.c", "mw_transcode.c"} <= names


@pytest.mark.parametrize("path", C_FILES, ids=lambda p: p.name)
def test_no_allocation_io_or_python(path: Path) -> None:
    code = _code(path)
    for banned in ("malloc", "calloc", "realloc", "free(", "printf", "fopen", "Python.h", "exit("):
        assert banned not in code, f"{path.name} uses {banned}"


@pytest.mark.parametrize("path", C_FILES, ids=lambda p: p.name)
def test_no_mutable_file_scope_state(path: Path) -> None:
    # A file-scope `static` that is not a function and not const is mutable global state.
    for line in _code(path).splitlines():
        if not line.startswith("static "):
            continue
        if "(" in line.split("=")[0]:
            continue  # a function definition or prototype
        assert " const " in line or line.startswith("static const"), (
            f"{path.name}: mutable file-scope state: {line.strip()}"
        )


def test_every_api_function_is_defined_once() -> None:
    header = _code(CSRC / "mywire_api.h")
    declared = set(re.findall(r"\b(mw_\w+)\s*\(", header))
    assert declared == {
        "mw_unpack",
        "mw_pack",
        "mw_scan_packets",
        "mw_build_packets",
        "mw_decode_rows",
        "mw_format_doubles",
        "mw_format_floats32",
        "mw_transcode_rows",
    }
    bodies = "\n".join(_code(p) for p in CSRC.glob("*.c"))
    for name in declared:
        definitions = re.findall(rf"^\w[\w\s\*]*\b{name}\s*\(", bodies, flags=re.M)
        assert len(definitions) == 1, f"{name} defined {len(definitions)} times"


def test_cdef_parses_and_matches_the_header() -> None:
    cffi = pytest.importorskip("cffi")
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_ffi", CSRC / "build_ffi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ffi = cffi.FFI()
    ffi.cdef(module.cdef_text())
    assert ffi.sizeof("mw_value") == 24
    assert ffi.sizeof("mw_error") == 32
