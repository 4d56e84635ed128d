"""Field codec benchmarks: one packet's fields parsed and built in one backend call.

pytest bench/bench_codec.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from mywire import _backend, _pycore
from mywire.codec import pack, unpack

C = _backend.load_c()
BACKENDS = [pytest.param(_pycore, id="python")]
BACKENDS.append(
    pytest.param(C, id="c") if C else pytest.param(None, id="c", marks=pytest.mark.skip)
)

# A ColumnDefinition41: six length-encoded strings, then the fixed-length fields.
COLUMN_FORMAT = "SSSSSSLHIBHB2x"
COLUMN_VALUES = (b"def", b"test", b"orders", b"orders", b"total", b"total", 12, 63, 10, 246, 0, 2)
COLUMN = pack(COLUMN_FORMAT, *COLUMN_VALUES)


@pytest.mark.parametrize("impl", BACKENDS)
def test_unpack_column_definition(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = "ColumnDefinition41 (14 fields)"
    monkeypatch.setattr(_backend, "IMPL", impl)
    values = benchmark(unpack, COLUMN_FORMAT, COLUMN)
    benchmark.extra_info["correct"] = values == COLUMN_VALUES


@pytest.mark.parametrize("impl", BACKENDS)
def test_pack_column_definition(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = "ColumnDefinition41 (14 fields)"
    monkeypatch.setattr(_backend, "IMPL", impl)
    out = benchmark(pack, COLUMN_FORMAT, *COLUMN_VALUES)
    benchmark.extra_info["correct"] = out == COLUMN
