"""The server's allocator tuning: applied on glibc unless the environment sets glibc's own
thresholds, and it stops a queue of one-megabyte chunks that fills and drains (an upload's
read-ahead) from faulting in fresh pages every time."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

from polytrack_server.allocator import tune_allocator

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")

# Fills a queue with four ~1 MiB chunks and drains it, a hundred times; prints the page faults.
BURSTS = textwrap.dedent(
    """
    import resource, sys
    from polytrack_server.allocator import tune_allocator
    if sys.argv[1] == "tuned":
        assert tune_allocator({})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        queue = [b"x" * ((1 << 20) + 100) for _ in range(4)]
        del queue
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def page_faults(mode: str) -> int:
    # A process of its own: the thresholds are process-wide and cannot be undone.
    finished = subprocess.run(
        [sys.executable, "-c", BURSTS, mode], capture_output=True, text=True, check=True, env={}
    )
    return int(finished.stdout)


@glibc_only
def test_tuned_chunks_reuse_warm_memory_instead_of_fresh_pages() -> None:
    default, tuned = page_faults("default"), page_faults("tuned")
    # Measured: about 99,000 faults by default (every burst on fresh pages), about 1,000 tuned
    # (the first burst only).
    assert tuned * 10 < default


@pytest.mark.parametrize("setting", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_the_environments_own_setting_wins(setting: str) -> None:
    assert tune_allocator({setting: "131072"}) is False
