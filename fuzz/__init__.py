"""Differential fuzz targets for mywire (C core vs pure Python); see fuzz/README.md."""

from __future__ import annotations
