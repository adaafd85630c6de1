"""Metric packs: the byte form, the order and deduplication of points, and merging packs into a history."""

from __future__ import annotations

import math
import struct
import sys
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytrack_server.store.metric_packing import (
    History,
    Pack,
    SortKey,
    merge_packs,
    pack_ordered_columns,
    pack_points,
    sort_key,
    unpack,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DOUBLE = sys.float_info.max
NAN = float("nan")


def points_of(pack: Pack) -> list[tuple[int, int, float]]:
    return list(zip(pack.timestamps, pack.steps, pack.values, strict=True))


def keys_of(history: History | Pack) -> list[SortKey]:
    return [
        sort_key(timestamp, step, value)
        for timestamp, step, value in zip(history.timestamps, history.steps, history.values, strict=True)
    ]


def packed(*points: tuple[int, int, float]) -> Pack:
    count, data = pack_points(sort_key(*point) for point in points)
    return unpack(count, data)


def same_value(left: float, right: float) -> bool:
    """Equal, NaN equal to NaN, and the sign of zero kept."""
    return struct.pack("<d", left) == struct.pack("<d", right) or (left != left and right != right)


# --- sort keys ---------------------------------------------------------------------------------


def test_sort_key_of_nan_is_zero_with_the_flag():
    assert sort_key(5, 6, NAN) == (5, 6, 0.0, 1)
    assert sort_key(5, 6, 2.5) == (5, 6, 2.5, 0)


def test_nan_sorts_after_zero_and_negatives_but_before_positive_values():
    values = [0.5, NAN, -1.0, 0.0, -MAX_DOUBLE, MAX_DOUBLE]
    ordered = sorted(sort_key(1, 1, value) for value in values)
    assert ordered == [
        (1, 1, -MAX_DOUBLE, 0),
        (1, 1, -1.0, 0),
        (1, 1, 0.0, 0),
        (1, 1, 0.0, 1),
        (1, 1, 0.5, 0),
        (1, 1, MAX_DOUBLE, 0),
    ]


# --- pack_points / unpack ----------------------------------------------------------------------


def test_round_trip_of_extreme_values():
    points = [
        (INT64_MIN, INT64_MIN, -MAX_DOUBLE),
        (INT64_MAX, INT64_MAX, MAX_DOUBLE),
        (-1, -(2**40), -0.5),
        (0, 0, NAN),
        (0, 0, 0.0),
        (1_700_000_000_000, 2**53 + 1, 5e-324),
    ]
    pack = packed(*points)
    assert len(pack.values) == 6
    expected = sorted(points, key=lambda point: sort_key(*point))
    for (timestamp, step, value), (want_ts, want_step, want_value) in zip(
        points_of(pack), expected, strict=True
    ):
        assert (timestamp, step) == (want_ts, want_step)
        assert same_value(value, want_value)
    # The NaN comes back as NaN (not as the 0.0 of its sort key), after the real 0.0.
    zero_index = pack.timestamps.index(0)
    assert pack.values[zero_index] == 0.0 and not math.isnan(pack.values[zero_index])
    assert math.isnan(pack.values[zero_index + 1])


def test_packed_bytes_store_integer_columns_as_differences_when_they_fit():
    count, data = pack_points([sort_key(7, -2, 1.5), sort_key(3, 4, NAN)])
    assert count == 2
    # Two codes, then each integer column as its first value and the differences that follow.
    assert data[:2] == b"bb"
    assert data[2:11] == struct.pack("<qb", 3, 4)
    assert data[11:20] == struct.pack("<qb", 4, -6)
    (first, second) = struct.unpack("<2d", data[20:])
    assert math.isnan(first) and second == 1.5


@pytest.mark.parametrize(
    ("difference", "code"),
    [(127, b"b"), (128, b"h"), (32767, b"h"), (32768, b"i"), (2**31, b"q"), (2**63 - 1, b"q")],
)
def test_the_smallest_difference_type_that_fits_is_chosen(difference, code):
    count, data = pack_points([sort_key(0, 0, 1.0), sort_key(0, difference, 2.0)])
    assert data[1:2] == code
    assert list(unpack(count, data).steps) == sorted([0, difference])


def test_differences_beyond_64_bits_store_the_column_as_it_is():
    count, data = pack_points([sort_key(INT64_MIN, 0, 1.0), sort_key(INT64_MAX, 0, 2.0)])
    assert data[:2] == b"Ab"
    assert data[2:18] == struct.pack("<2q", INT64_MIN, INT64_MAX)
    assert list(unpack(count, data).timestamps) == [INT64_MIN, INT64_MAX]


def test_a_single_point_is_stored_as_it_is():
    assert pack_points([sort_key(5, 6, 7.0)])[0] == 1
    _, data = pack_points([sort_key(5, 6, 7.0)])
    assert data == b"AA" + struct.pack("<2qd", 5, 6, 7.0)


def test_duplicates_are_removed_and_points_sorted_by_timestamp_step_value():
    points = [(2, 0, 1.0), (1, 9, 3.0), (1, 9, 3.0), (1, 9, NAN), (1, 9, NAN), (1, 1, 9.0), (1, 9, -3.0)]
    count, data = pack_points(sort_key(*point) for point in points)
    assert count == 5
    pack = unpack(count, data)
    assert keys_of(pack) == [
        (1, 1, 9.0, 0),
        (1, 9, -3.0, 0),
        (1, 9, 0.0, 1),
        (1, 9, 3.0, 0),
        (2, 0, 1.0, 0),
    ]


def test_nan_and_zero_at_one_point_are_distinct_measurements():
    pack = packed((1, 1, NAN), (1, 1, 0.0))
    assert len(pack.values) == 2
    assert pack.values[0] == 0.0 and math.isnan(pack.values[1])


def test_empty_pack():
    count, data = pack_points([])
    assert (count, data) == (0, b"AA")
    pack = unpack(0, data)
    assert len(pack.timestamps) == len(pack.steps) == len(pack.values) == 0


@pytest.mark.parametrize(
    ("count", "data"),
    [
        (1, b"AA" + bytes(23)),
        (1, b"AA" + bytes(25)),
        (2, b"AA" + bytes(24)),
        (0, b"AA" + bytes(1)),
        (3, b""),
        (1, b"AA"),
        (2, b"bb" + bytes(9 + 9 + 15)),
        (2, b"Zb" + bytes(40)),
        (2, b"\xff\xfe" + bytes(40)),
    ],
)
def test_unpack_rejects_data_that_is_not_a_pack_of_that_many_points(count, data):
    with pytest.raises(ValueError, match=f"metric pack of {count} points"):
        unpack(count, data)


def test_key_at_matches_sort_key():
    pack = packed((4, 5, NAN), (4, 5, 6.0))
    assert [pack.key_at(0), pack.key_at(1)] == [(4, 5, 0.0, 1), (4, 5, 6.0, 0)]


# --- pack_ordered_columns ------------------------------------------------------------------------


def test_ordered_columns_pack_as_pack_points_does():
    timestamps, steps, values = (
        [INT64_MIN, 0, 0, 5, INT64_MAX],
        [0, -1, 3, INT64_MIN, INT64_MAX],
        [
            -MAX_DOUBLE,
            0.0,
            -0.0,
            1.5,
            MAX_DOUBLE,
        ],
    )
    packed_columns = pack_ordered_columns(timestamps, steps, values)
    assert packed_columns == pack_points(map(sort_key, timestamps, steps, values))
    assert pack_ordered_columns([], [], []) == (0, b"AA")
    assert pack_ordered_columns((7,), (8,), (9.0,)) == pack_points([sort_key(7, 8, 9.0)])


@pytest.mark.parametrize(
    ("timestamps", "steps"),
    [
        ([1, 1], [2, 2]),  # the same (timestamp, step) twice, even with different values
        ([2, 1], [0, 0]),  # timestamps going back
        ([1, 1], [3, 2]),  # steps going back at one timestamp
    ],
)
def test_columns_out_of_order_or_repeated_are_not_packed_as_they_are(timestamps, steps):
    assert pack_ordered_columns(timestamps, steps, [1.0, 2.0]) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(-2, 3), st.sampled_from([INT64_MIN, INT64_MAX])),
            st.one_of(st.integers(-2, 3), st.sampled_from([INT64_MIN, INT64_MAX])),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_ordered_columns_are_packed_exactly_when_strictly_increasing(points, sort_first):
    if sort_first:  # mostly strictly increasing then, unless a (timestamp, step) repeats
        points.sort()
    columns = [list(column) for column in zip(*points, strict=True)] or [[], [], []]
    packed_columns = pack_ordered_columns(*columns)
    pairs = [(timestamp, step) for timestamp, step, _ in points]
    if all(left < right for left, right in pairwise(pairs)):
        assert packed_columns == pack_points(sort_key(*point) for point in points)
    else:
        assert packed_columns is None


# --- merge_packs -------------------------------------------------------------------------------


def test_no_packs_is_an_empty_history():
    history = merge_packs([])
    assert list(history.timestamps) == list(history.steps) == list(history.values) == []


@pytest.mark.parametrize("packs", [[], [packed(), packed()]], ids=["no packs", "two empty packs"])
def test_pack_indexes_of_an_empty_history(packs):
    assert merge_packs(packs).pack_indexes(0, 0) == []


def test_one_pack_is_the_history_as_it_is():
    pack = packed((1, 0, 1.0), (2, 0, 2.0))
    history = merge_packs([pack])
    assert history.timestamps is pack.timestamps and history.values is pack.values
    assert history.stretches == [(0, 0)]
    assert history.pack_indexes(0, 2) == [0, 0]


def test_packs_following_one_another_are_concatenated():
    packs = [packed((1, 0, 1.0), (2, 0, 2.0)), packed((3, 0, 3.0)), packed((3, 1, 0.0), (4, 0, NAN))]
    history = merge_packs(packs)
    assert list(history.timestamps) == [1, 2, 3, 3, 4]
    assert list(history.steps) == [0, 0, 0, 1, 0]
    assert list(history.values)[:4] == [1.0, 2.0, 3.0, 0.0] and math.isnan(history.values[4])
    assert history.stretches == [(0, 0), (2, 1), (3, 2)]
    assert history.pack_indexes(0, 5) == [0, 0, 1, 2, 2]


def test_overlapping_packs_are_sorted_and_deduplicated_first_pack_winning():
    packs = [
        packed((5, 0, 5.0), (1, 0, 1.0)),
        packed((3, 0, 3.0), (5, 0, 5.0)),  # 5 repeats pack 0's point
        packed((1, 0, 1.0), (2, 0, 2.0), (6, 0, NAN)),  # 1 repeats pack 0's point
    ]
    history = merge_packs(packs)
    assert keys_of(history) == [
        (1, 0, 1.0, 0),
        (2, 0, 2.0, 0),
        (3, 0, 3.0, 0),
        (5, 0, 5.0, 0),
        (6, 0, 0.0, 1),
    ]
    assert history.pack_indexes(0, 5) == [0, 2, 1, 0, 2]
    assert math.isnan(history.values[4])


def test_a_pack_repeating_the_last_point_of_the_previous_one_is_merged():
    """Touching packs (last key equal to the next first key) are not "following": no duplicate."""
    history = merge_packs([packed((1, 0, 1.0), (2, 0, 2.0)), packed((2, 0, 2.0), (3, 0, 3.0))])
    assert keys_of(history) == [(1, 0, 1.0, 0), (2, 0, 2.0, 0), (3, 0, 3.0, 0)]
    assert history.pack_indexes(0, 3) == [0, 0, 1]


def test_nan_duplicates_across_packs_collapse():
    history = merge_packs([packed((1, 1, NAN)), packed((1, 1, NAN), (1, 1, 0.0))])
    assert keys_of(history) == [(1, 1, 0.0, 0), (1, 1, 0.0, 1)]
    assert history.pack_indexes(0, 2) == [1, 0]


def test_an_empty_pack_after_others_is_ignored():
    history = merge_packs([packed((1, 0, 1.0)), packed(), packed((2, 0, 2.0))])
    assert keys_of(history) == [(1, 0, 1.0, 0), (2, 0, 2.0, 0)]
    assert history.pack_indexes(0, 2) == [0, 2]


def test_an_empty_first_pack_is_ignored():
    history = merge_packs([packed(), packed((1, 0, 1.0))])
    assert keys_of(history) == [(1, 0, 1.0, 0)]
    assert history.pack_indexes(0, 1) == [1]


def test_pack_indexes_of_slices():
    packs = [packed((1, 0, 0.0), (2, 0, 0.0)), packed((3, 0, 0.0)), packed((4, 0, 0.0), (5, 0, 0.0))]
    history = merge_packs(packs)
    everything = [0, 0, 1, 2, 2]
    for start in range(6):
        for stop in range(start, 6):
            assert history.pack_indexes(start, stop) == everything[start:stop], (start, stop)
    # Beyond the end the history simply ends.
    assert history.pack_indexes(3, 99) == [2, 2]


# --- the property ------------------------------------------------------------------------------

timestamps = st.one_of(st.integers(0, 6), st.sampled_from([INT64_MIN, INT64_MAX, -1]))
steps = st.one_of(st.integers(-2, 3), st.sampled_from([INT64_MIN, INT64_MAX]))
values = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, NAN, MAX_DOUBLE, -MAX_DOUBLE]),
    st.floats(allow_nan=True, allow_infinity=False),
)
point = st.tuples(timestamps, steps, values)


@st.composite
def split_points(draw: st.DrawFn) -> list[list[tuple[int, int, float]]]:
    """Points (with repeats) cut into packs, sometimes sorted first to exercise the fast path."""
    points = draw(st.lists(point, max_size=40))
    if draw(st.booleans()):
        points.sort(key=lambda item: sort_key(*item))
    cuts = sorted(draw(st.lists(st.integers(0, len(points)), max_size=6)))
    bounds = [0, *cuts, len(points)]
    chunks = [points[low:high] for low, high in pairwise(bounds)]
    if draw(st.booleans()):  # the store never writes an empty pack, but merging must not mind one
        chunks.insert(draw(st.integers(0, len(chunks))), [])
    return chunks


@settings(max_examples=300, deadline=None)
@given(split_points())
def test_merging_packs_is_sorting_the_set_of_all_points(chunks):
    packs = [packed(*chunk) for chunk in chunks]
    history = merge_packs(packs)
    first_pack: dict[SortKey, int] = {}
    for index, chunk in enumerate(chunks):
        for item in chunk:
            first_pack.setdefault(sort_key(*item), index)
    expected = sorted(first_pack)
    assert keys_of(history) == expected
    assert history.pack_indexes(0, len(expected)) == [first_pack[key] for key in expected]
    assert all(math.isnan(v) == bool(k[3]) for v, k in zip(history.values, expected, strict=True))
