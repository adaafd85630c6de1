"""Request validation: each rule accepts what MLflow accepts and names what it rejects."""

from __future__ import annotations

import math

import pytest

from polytrack_server.errors import InvalidParameter
from polytrack_server.services import validation as v


@pytest.mark.parametrize("key", ["loss", "a/b", "train loss", "m:1", "x.y-z_w", "a" * 250])
def test_valid_keys_are_accepted(key: str) -> None:
    assert v.validate_key(key, "metric") == key


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "Missing value"),
        ("a" * 251, "251 characters"),
        ("bad*key", "may only contain"),
        ("/abs", "normalised"),
        ("a/../b", "normalised"),
        ("a//b", "normalised"),
        ("./a", "normalised"),
        (".", "normalised"),
        ("a/", "normalised"),
        ("../escape", "normalised"),
        ("a/..", "normalised"),
        ("..", "normalised"),
    ],
)
def test_invalid_keys_are_rejected_with_a_reason(key: str, fragment: str) -> None:
    with pytest.raises(InvalidParameter, match=fragment):
        v.validate_key(key, "metric")


def test_truncate_cuts_only_long_values() -> None:
    assert v.truncate("abc", 5) == "abc"
    assert v.truncate("x" * 6001, v.MAX_PARAM_VALUE_LENGTH) == "x" * 6000


def test_batch_limits() -> None:
    v.validate_batch_sizes(1000, 0, 0)
    v.validate_batch_sizes(900, 50, 50)
    with pytest.raises(InvalidParameter, match="at most 1000 metrics"):
        v.validate_batch_sizes(1001, 0, 0)
    with pytest.raises(InvalidParameter, match="at most 100 params"):
        v.validate_batch_sizes(0, 101, 0)
    with pytest.raises(InvalidParameter, match="at most 100 tags"):
        v.validate_batch_sizes(0, 0, 101)
    with pytest.raises(InvalidParameter, match="in total; got 1001"):
        v.validate_batch_sizes(901, 100, 0)


def test_duplicate_param_keys_are_named() -> None:
    v.reject_duplicate_keys(["a", "b"], "param")
    with pytest.raises(InvalidParameter, match="'a'"):
        v.reject_duplicate_keys(["a", "b", "a"], "param")


def test_max_results_bounds() -> None:
    assert v.validate_max_results(1, "max_results", 10) == 1
    for bad in (0, -1, 11):
        with pytest.raises(InvalidParameter, match="between 1 and 10"):
            v.validate_max_results(bad, "max_results", 10)


def test_infinity_is_clamped_and_nan_kept() -> None:
    assert v.finite_or_clamped(math.inf) == 1.7976931348623157e308
    assert v.finite_or_clamped(-math.inf) == -1.7976931348623157e308
    assert math.isnan(v.finite_or_clamped(math.nan))
    assert v.finite_or_clamped(2.5) == 2.5


@pytest.mark.parametrize(
    "location",
    [
        "runs:/abc/artifacts",
        "http:///?/../../../../etc/",
        "http:///#/../../../etc/",
        "file:///tmp/x#/../../etc",
        "s3://bucket/a/../../b",
        "file:///srv/%2e%2e/etc",
        "file:///srv/%252E%252E/etc",
        "C:\\temp\\x",
        "file:///tmp/a\x00b",
        "x" * 2049,
    ],
)
def test_hostile_artifact_locations_are_rejected(location: str) -> None:
    with pytest.raises(InvalidParameter, match="artifact_location"):
        v.validate_artifact_location(location)


@pytest.mark.parametrize("location", ["s3://bucket/path", "file:///srv/artifacts/7", "mlflow-artifacts:/7"])
def test_plain_artifact_locations_are_accepted(location: str) -> None:
    assert v.validate_artifact_location(location) == location


def test_run_id_format() -> None:
    assert v.validate_run_id_format("0123abcd" * 4)
    for bad in ("", "-abc", "a" * 300, "../etc"):
        with pytest.raises(InvalidParameter, match="run_id"):
            v.validate_run_id_format(bad)
