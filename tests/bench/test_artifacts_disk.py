"""bench/artifacts.py's disk figures: counters read from /proc/diskstats, a meter that reports what
a block device wrote and how long it was busy while a transfer ran, and uploads timed until durable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# Two lines of /proc/diskstats: major minor name, then reads (4 fields), writes (4: completed,
# merged, sectors, ms), I/Os in flight, ms busy, weighted ms, then discard and flush fields.
DISKSTATS = """\
 253       0 vda 1000 10 20000 300 5000 50 2097152 4000 0 3500 4300 0 0 0 0 10 20
 253       1 vda1 900 9 18000 290 4900 49 2000000 3900 0 3400 4200 0 0 0 0 0 0
"""


def test_counters_are_bytes_written_and_milliseconds_busy_of_the_named_device(bench: Any) -> None:
    assert bench.disk_counters("vda", DISKSTATS) == (2097152 * 512, 3500)
    assert bench.disk_counters("vda1", DISKSTATS) == (2000000 * 512, 3400)
    with pytest.raises(LookupError, match="sdz"):
        bench.disk_counters("sdz", DISKSTATS)


def test_a_ram_backed_folder_has_no_block_device(bench: Any) -> None:
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm here")
    assert bench.block_device_of(Path("/dev/shm")) is None


def test_the_meter_sees_an_fsynced_write_on_the_disk_holding_a_folder(bench: Any, tmp_path: Path) -> None:
    device = bench.block_device_of(tmp_path)
    if device is None:
        pytest.skip(f"{tmp_path} is not on a block device")
    with bench.DiskMeter(device) as meter, (tmp_path / "data.bin").open("wb") as handle:
        handle.write(os.urandom(4 * 1024 * 1024))
        handle.flush()
        os.fsync(handle.fileno())
    # The whole-disk counters include everything else the machine wrote meanwhile: at least ours.
    # (Busy time is counted in jiffies: a fast disk may finish 4 MiB within one, so it is not checked.)
    assert meter.written_bytes >= 4 * 1024 * 1024


def test_without_a_device_the_meter_records_nothing(bench: Any) -> None:
    with bench.DiskMeter(None) as meter:
        pass
    assert (meter.written_bytes, meter.busy_seconds) == (0, 0.0)


def test_making_a_folder_durable_writes_what_a_server_left_in_the_cache(bench: Any, tmp_path: Path) -> None:
    device = bench.block_device_of(tmp_path)
    if device is None:
        pytest.skip(f"{tmp_path} is not on a block device")
    stored = tmp_path / "experiment" / "run"
    stored.mkdir(parents=True)
    (stored / "payload.bin").write_bytes(os.urandom(4 * 1024 * 1024))  # answered, not yet on disk
    with bench.DiskMeter(device) as meter:
        owed = bench.make_durable(tmp_path)
    assert owed > 0
    assert meter.written_bytes >= 4 * 1024 * 1024


def test_the_median_upload_until_durable_is_chosen_apart_from_the_median_answer(bench: Any) -> None:
    def round_(answered_seconds: float, owed: float) -> dict[str, Any]:
        upload = {"seconds": answered_seconds, "throughput_mib_s": round(1024 / answered_seconds, 1)}
        download = {"seconds": 1.0, "throughput_mib_s": 1024.0}
        durable = bench._with_durable(upload, 1024 * 1024 * 1024, owed)
        return {"load_average_1m": [0.5], "upload": durable, "download": download}

    # Answers in 4, 5 and 6 s; the fastest answer owed the disk the most.
    summary = bench._summary([round_(4.0, 4.0), round_(5.0, 0.0), round_(6.0, 0.5)])
    upload = summary["upload"]
    assert upload["throughput_all_mib_s"] == [170.7, 204.8, 256.0]
    assert upload["throughput_mib_s"] == 204.8  # the 5 s round
    # Until durable: 8 s, 5 s and 6.5 s.
    assert upload["durable_all_mib_s"] == [128.0, 157.5, 204.8]
    assert upload["durable_throughput_mib_s"] == 157.5
