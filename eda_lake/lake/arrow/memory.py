"""Giving the memory a finished phase of a run freed back to the system.

Arrow's allocator and the C library's (behind delta-rs and DataFusion) keep freed pages for
reuse, so a process's resident memory only grows: each phase of a run (silver's read of
bronze, its landing, the entities' build) would start from the last one's peak. Handing the
pages back between phases makes the run's peak its largest phase's, not their sum.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import pyarrow as pa


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the pages freed so far to the system. (Arrow's buffers are freed as their
    last reference goes; a garbage collection, 50 ms, would find none in cycles.)"""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
