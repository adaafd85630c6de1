"""The packed form of metric measurements: the points of one metric logged together, in one value.

A pack holds n points as three little-endian columns one after another: timestamps, steps and
values (float64, NaN kept as NaN, +/-inf already clamped to the largest doubles), after two bytes
naming how each integer column is stored: "A", n int64 values as they are, or "b", "h", "i" or
"q", the first value as an int64 and then the n-1 differences between neighbours as signed 8-,
16-, 32- or 64-bit integers, the smallest that holds them all. Timestamps and steps mostly move
by small amounts, so a point usually takes 10 bytes instead of 24, which is most of the cost of
writing it. Its points are sorted by `sort_key` and free of exact duplicates, so a history made
of packs that follow one another is their concatenation; overlapping packs are merged (see
`merge_packs`).

Why packs and not one row per point: logging a batch then writes one row per metric instead of
one index entry per point, and a 100,000-point history is read as a few hundred rows.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from itertools import accumulate, islice, pairwise
from operator import lt, sub
from typing import Final, NamedTuple

NAN: Final = float("nan")
_SWAP: Final = sys.byteorder == "big"
_ABSOLUTE: Final = "A"
_ITEM_SIZES: Final = {code: array(code).itemsize for code in "bhiq"}
# Difference encodings, smallest first, with the half-open range each can hold.
_DIFFERENCES: Final = tuple(
    (code, -(1 << (8 * size - 1)), 1 << (8 * size - 1)) for code, size in _ITEM_SIZES.items()
)

# (timestamp, step, value with NaN as 0.0, 1 for NaN else 0): the history's order. Two points are
# the same measurement exactly when their keys are equal.
SortKey = tuple[int, int, float, int]


class Pack(NamedTuple):
    """Points decoded from one stored pack, as three parallel arrays."""

    timestamps: array[int]
    steps: array[int]
    values: array[float]

    def key_at(self, index: int) -> SortKey:
        return sort_key(self.timestamps[index], self.steps[index], self.values[index])


def sort_key(timestamp: int, step: int, value: float) -> SortKey:
    if value != value:
        return (timestamp, step, 0.0, 1)
    return (timestamp, step, value, 0)


def pack_points(keys: Iterable[SortKey]) -> tuple[int, bytes]:
    """(count, bytes) of the distinct points among `keys`, sorted."""
    ordered = sorted(set(keys))
    timestamps = [key[0] for key in ordered]
    steps = [key[1] for key in ordered]
    values = [NAN if key[3] else key[2] for key in ordered]
    return len(ordered), _encode(timestamps, steps, values)


def pack_ordered_columns(
    timestamps: Sequence[int], steps: Sequence[int], values: Sequence[float]
) -> tuple[int, bytes] | None:
    """`pack_points` for finite points given as columns, without a tuple per point, when they are
    already in order without duplicates ((timestamp, step) strictly increasing, as a loop logging
    step after step gives); None otherwise."""
    pairs = list(zip(timestamps, steps, strict=True))
    if not all(map(lt, pairs, islice(pairs, 1, None))):
        return None
    return len(pairs), _encode(timestamps, steps, values)


def _encode(timestamps: Sequence[int], steps: Sequence[int], values: Sequence[float]) -> bytes:
    timestamp_code, timestamp_bytes = _encode_integers(timestamps)
    step_code, step_bytes = _encode_integers(steps)
    codes = (timestamp_code + step_code).encode("ascii")
    return b"".join((codes, timestamp_bytes, step_bytes, _little_endian(array("d", values))))


def _encode_integers(column: Sequence[int]) -> tuple[str, bytes]:
    if len(column) > 1:
        differences = list(map(sub, islice(column, 1, None), column))
        low, high = min(differences), max(differences)
        for code, minimum, limit in _DIFFERENCES:
            if minimum <= low and high < limit:
                first = _little_endian(array("q", column[:1]))
                return code, first + _little_endian(array(code, differences))
    return _ABSOLUTE, _little_endian(array("q", column))


def _little_endian(column: array[int] | array[float]) -> bytes:
    if _SWAP:
        column.byteswap()
    return column.tobytes()


def unpack(count: int, data: bytes) -> Pack:
    """The points of a pack of `count` points; ValueError if `data` is not such a pack."""
    try:
        codes = data[:2].decode("ascii")
        timestamps, offset = _decode_integers(codes[0], count, data, 2)
        steps, offset = _decode_integers(codes[1], count, data, offset)
    except (UnicodeDecodeError, IndexError, KeyError) as error:
        raise ValueError(f"not a metric pack of {count} points: {error}") from None
    if len(data) - offset != 8 * count:
        raise ValueError(f"a metric pack of {count} points has {len(data) - offset} bytes of values")
    values = array("d")
    values.frombytes(data[offset:])
    if _SWAP:
        values.byteswap()
    return Pack(timestamps, steps, values)


def _decode_integers(code: str, count: int, data: bytes, offset: int) -> tuple[array[int], int]:
    """One integer column of `count` values at `offset`, and the offset after it."""
    column = array("q")
    if code == _ABSOLUTE:
        end = offset + 8 * count
        column.frombytes(data[offset:end])
        if _SWAP:
            column.byteswap()
    else:
        end = offset + 8 + _ITEM_SIZES[code] * (count - 1)
        differences = array(code)
        differences.frombytes(data[offset + 8 : end])
        if _SWAP:
            differences.byteswap()
        first = int.from_bytes(data[offset : offset + 8], "little", signed=True)
        column.extend(accumulate(differences, initial=first))
    if len(column) != count or end > len(data):
        raise IndexError("the pack is shorter than its point count")
    return column, end


class History(NamedTuple):
    """Merged points as parallel sequences, and which pack each stretch of them came from."""

    timestamps: Sequence[int]
    steps: Sequence[int]
    values: Sequence[float]
    # (index of the first point, index of its pack), ascending: the pack of point i is that of the
    # last stretch starting at or before i.
    stretches: list[tuple[int, int]]

    def pack_indexes(self, start: int, stop: int) -> list[int]:
        """The pack index of each point in [start, stop)."""
        owners: list[int] = []
        if not self.stretches:
            return owners
        bounds = [first for first, _ in self.stretches[1:]] + [len(self.values)]
        for (first, pack), end in zip(self.stretches, bounds, strict=True):
            low, high = max(first, start), min(end, stop)
            if low < high:
                owners.extend([pack] * (high - low))
        return owners


def merge_packs(packs: Sequence[Pack]) -> History:
    """The history the packs hold, in order and without duplicates.

    Packs in storage order that each start after the previous one ends are already that history
    (the usual case: a run logs steps forward) and are joined as they are. Otherwise every point
    is sorted, the first stored copy of a duplicate winning.
    """
    if all(len(pack.values) for pack in packs) and all(
        previous.key_at(len(previous.values) - 1) < current.key_at(0) for previous, current in pairwise(packs)
    ):
        if len(packs) == 1:
            only = packs[0]
            return History(only.timestamps, only.steps, only.values, [(0, 0)])
        joined = Pack(array("q"), array("q"), array("d"))
        stretches: list[tuple[int, int]] = []
        for index, pack in enumerate(packs):
            stretches.append((len(joined.values), index))
            joined.timestamps.extend(pack.timestamps)
            joined.steps.extend(pack.steps)
            joined.values.extend(pack.values)
        return History(joined.timestamps, joined.steps, joined.values, stretches)
    keyed = sorted(
        (sort_key(timestamp, step, value), index)
        for index, pack in enumerate(packs)
        for timestamp, step, value in zip(pack.timestamps, pack.steps, pack.values, strict=True)
    )
    timestamps: list[int] = []
    steps: list[int] = []
    values: list[float] = []
    stretches = []
    previous: SortKey | None = None
    for key, index in keyed:
        if key == previous:
            continue
        if not stretches or stretches[-1][1] != index:
            stretches.append((len(values), index))
        timestamps.append(key[0])
        steps.append(key[1])
        values.append(NAN if key[3] else key[2])
        previous = key
    return History(timestamps, steps, values, stretches)
