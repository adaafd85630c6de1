"""glibc's allocator tuned for a server that moves large buffers.

gRPC hands each received message to Python as a new bytes object, so an upload allocates and frees
a one-megabyte chunk about a thousand times per gigabyte, a few at a time as the read-ahead queue
fills and drains. By default glibc serves such chunks from mmap at first, and whenever more than
twice the largest freed chunk lies free at the top of a heap it gives those pages back to the
kernel: the next chunks land on fresh pages that must be faulted in and zeroed. On the benchmark
machine that was a fifth of the server's CPU time per uploaded gigabyte. Serving allocations
below 4 MiB from the heap and keeping up to 8 MiB free at a heap's top lets chunks reuse warm
memory, at the cost of that much memory kept per allocator arena.

The environment's own settings win: with MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ set
(glibc reads them at start-up), nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

# mallopt(3) parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 8 * 1024 * 1024
ENVIRONMENT_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator(environ: Mapping[str, str] = os.environ) -> bool:
    """Set this process's mmap and trim thresholds; whether they were set (False off glibc, or when
    `environ` carries glibc's own settings)."""
    if any(name in environ for name in ENVIRONMENT_SETTINGS) or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success.
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
