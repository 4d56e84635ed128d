"""atheris driver: ``python fuzz/fuzz.py TARGET [libFuzzer options] [CORPUS_DIR ...]``.

Instruments mywire and fuzz/targets.py (Python coverage for libFuzzer), then fuzzes the
named target from fuzz/targets.py ``TARGETS``.  Any exception or crash is a finding:
libFuzzer writes the input as ``crash-<sha1>`` (see ``-artifact_prefix``).  fuzz/run.sh
runs every target this way against the ASan/UBSan build.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str]) -> None:
    atheris: Any = importlib.import_module("atheris")
    if len(argv) < 2:
        sys.exit("usage: fuzz.py TARGET [libFuzzer options] [CORPUS_DIR ...]")
    with atheris.instrument_imports(include=["mywire", "fuzz"]):
        import fuzz.targets as targets
    name = argv[1]
    if name not in targets.TARGETS:
        sys.exit(f"unknown target {name!r}; one of {', '.join(targets.TARGETS)}")
    targets.c_backend()  # fail at once, not per input, without the C core
    atheris.Setup([argv[0], *argv[2:]], targets.TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
