"""The fuzz targets (fuzz/targets.py) run once per seed kind in the normal suite.

Each target gets a few seeds cut from the public captures by fuzz/make_corpus.py, a few
fixed hostile inputs and a little seeded random noise, without atheris: a target that
raises (a backend disagreement, an exception that is not a MywireError, or a bug in the
target itself) fails the test.  Like test_differential.py the module runs once, under
the ``c`` parameter of the backend fixture (the targets call both backends).
"""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.parametrize("backend", ["c"], indirect=True)

SEEDS_PER_TARGET = 6
RANDOM_INPUTS = 20


def _import(name: str) -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(name)


targets = _import("fuzz.targets")
make_corpus = _import("fuzz.make_corpus")
TARGET_NAMES: list[str] = list(targets.TARGETS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    counts = make_corpus.build(out, [ROOT / "tests" / "captures" / "public"])
    assert all(n > 0 for n in counts.values()), counts
    return out


HOSTILE = [
    b"",
    b"\x00",
    b"\xff" * 40,
    b"\x00\x00\xff\xff\xff\x00" + b"\xfe" + b"\xff" * 8,
    b"\x08\x00\x0b\x00\x00\x00\xff\xff\xff" + b"x" * 11,  # compressed, huge ulen
    b"\x01\x01\xfd\x00\x00\x00" + b"\xfe" + b"\xff" * 8,
]


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_target_on_capture_seeds(name: str, corpus: Path) -> None:
    seeds = sorted((corpus / name).iterdir())[:SEEDS_PER_TARGET]
    assert seeds
    for seed in seeds:
        targets.TARGETS[name](seed.read_bytes())


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_target_on_hostile_and_random_bytes(name: str) -> None:
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rnd = random.Random(seed)
    inputs = list(HOSTILE)
    inputs += [rnd.randbytes(rnd.randrange(80)) for _ in range(RANDOM_INPUTS)]
    for data in inputs:
        targets.TARGETS[name](data)


def test_differential_reports_a_disagreement() -> None:
    calls = iter((1, 2))
    with pytest.raises(targets.Disagreement):
        targets.differential(lambda: next(calls))


def test_differential_lets_other_exceptions_through() -> None:
    def boom() -> object:
        raise KeyError("not a mywire error")

    with pytest.raises(KeyError):
        targets.differential(boom)


def test_rows_seed_round_trips_the_columns() -> None:
    col = targets.ColumnDefinition(
        name="c0", character_set=45, type=246, flags=0x20, decimals=2, extended_type="json"
    )
    seed = targets.rows_seed((col,), [b"\x011", b"\xfb"], 1)
    cols, rest = targets.decode_columns(seed[1:])
    assert cols == (col,)
    assert targets.split_rows(rest) == [b"\x011", b"\xfb"]
