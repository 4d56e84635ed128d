"""Framing benchmarks: C vs pure, large and small payloads, against a plain bytes copy.

Run (see bench/README.md):

    pytest bench/bench_framing.py --benchmark-only --benchmark-columns=median,iqr,ops \
        --benchmark-group-by=group

Every benchmark records ``extra_info["correct"]``: whether its output matched the
expected payloads, so a fast wrong answer shows in the table.
"""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import pytest

from mywire import _backend, _pycore
from mywire.framing import PacketReader, frame_payload

C = _backend.load_c()
BACKENDS = [pytest.param(_pycore, id="python")]
BACKENDS.append(
    pytest.param(C, id="c") if C else pytest.param(None, id="c", marks=pytest.mark.skip)
)

MIB = 1 << 20
LARGE = 64 * MIB
LARGE_PAYLOAD = random.Random(0).randbytes(LARGE)
# 20,000 small payloads of 10..200 bytes, the shape of a resultset's row packets.
_rng = random.Random(1)
SMALL_PAYLOADS = [_rng.randbytes(_rng.randrange(10, 200)) for _ in range(20_000)]


def _small_stream() -> bytes:
    parts = []
    seq = 0
    for p in SMALL_PAYLOADS:
        framed, seq = frame_payload(p, seq)
        parts.append(framed)
    return b"".join(parts)


SMALL_STREAM = _small_stream()
LARGE_STREAM = frame_payload(LARGE_PAYLOAD)[0]


def _use(monkeypatch: pytest.MonkeyPatch, impl: ModuleType) -> None:
    monkeypatch.setattr(_backend, "IMPL", impl)


def test_bytes_copy_baseline(benchmark: Any) -> None:
    """The floor: one copy of the 64 MiB payload into a new bytes object."""
    benchmark.group = "64 MiB payload"
    view = memoryview(LARGE_PAYLOAD)
    out = benchmark(bytes, view)
    benchmark.extra_info["correct"] = out == LARGE_PAYLOAD


@pytest.mark.parametrize("impl", BACKENDS)
def test_frame_large(benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    benchmark.group = "64 MiB payload"
    _use(monkeypatch, impl)
    framed, _ = benchmark(frame_payload, LARGE_PAYLOAD, 0)
    benchmark.extra_info["correct"] = framed == LARGE_STREAM


@pytest.mark.parametrize("impl", BACKENDS)
def test_read_large(benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    benchmark.group = "64 MiB payload"
    _use(monkeypatch, impl)

    def read() -> bytes:
        reader = PacketReader()
        reader.feed(LARGE_STREAM)
        payload = reader.next_payload()
        assert payload is not None
        return payload.data

    benchmark.extra_info["correct"] = benchmark(read) == LARGE_PAYLOAD


@pytest.mark.parametrize("impl", BACKENDS)
def test_read_large_in_64k_chunks(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = "64 MiB payload"
    _use(monkeypatch, impl)
    chunks = [LARGE_STREAM[i : i + 65536] for i in range(0, len(LARGE_STREAM), 65536)]

    def read() -> bytes:
        reader = PacketReader()
        for chunk in chunks:
            reader.feed(chunk)
        payload = reader.next_payload()
        assert payload is not None
        return payload.data

    benchmark.extra_info["correct"] = benchmark(read) == LARGE_PAYLOAD


@pytest.mark.parametrize("impl", BACKENDS)
def test_read_small_batched(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = "20k small payloads"
    _use(monkeypatch, impl)

    def read() -> list[bytes]:
        reader = PacketReader()
        reader.feed(SMALL_STREAM)
        out: list[bytes] = []
        while batch := reader.read_payloads(4096):
            out.extend(p.data for p in batch)
        return out

    benchmark.extra_info["correct"] = benchmark(read) == SMALL_PAYLOADS


@pytest.mark.parametrize("impl", BACKENDS)
def test_read_small_one_by_one(
    benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    benchmark.group = "20k small payloads"
    _use(monkeypatch, impl)

    def read() -> list[bytes]:
        reader = PacketReader()
        reader.feed(SMALL_STREAM)
        out: list[bytes] = []
        while (p := reader.next_payload()) is not None:
            out.append(p.data)
        return out

    benchmark.extra_info["correct"] = benchmark(read) == SMALL_PAYLOADS


@pytest.mark.parametrize("impl", BACKENDS)
def test_frame_small(benchmark: Any, impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    benchmark.group = "20k small payloads"
    _use(monkeypatch, impl)

    def frame() -> bytes:
        parts = []
        seq = 0
        for p in SMALL_PAYLOADS:
            framed, seq = frame_payload(p, seq)
            parts.append(framed)
        return b"".join(parts)

    benchmark.extra_info["correct"] = benchmark(frame) == SMALL_STREAM
