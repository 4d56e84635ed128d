"""Bundled sample recordings (data only)."""
