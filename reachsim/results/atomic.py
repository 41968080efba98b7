"""Atomic file writes for the run directory (the implementation is in the bottom layer: reachsim.core.atomic)."""

from reachsim.core.atomic import write_bytes, write_text

__all__ = ["write_bytes", "write_text"]
