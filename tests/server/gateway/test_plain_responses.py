"""Plain responses (`PlainResponse`): the JSON the gateway writes from plain values is byte for byte
that of the materialized message."""

from __future__ import annotations

import copy
import math
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.gateway.codec import JsonCodecs
from polytrack_server.gateway.encoding import PlainNormalizer
from polytrack_server.rpc import PlainResponse

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DOUBLE = sys.float_info.max
# Property tests share one registry: hypothesis runs each test many times within one fixture scope.
SHARED = JsonCodecs()
HISTORY = SHARED.codec(api.GetMetricHistoryResponse)
RUNS = SHARED.codec(api.SearchRunsResponse)

int64s = st.one_of(
    st.sampled_from([0, 1, -1, INT64_MIN, INT64_MAX, 2**53 + 1]), st.integers(INT64_MIN, INT64_MAX)
)
doubles = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, MAX_DOUBLE, -MAX_DOUBLE, 5e-324]),
    st.floats(),
)
texts = st.one_of(st.sampled_from(["", "m-1", "ünï/код/名前", 'a"b\\c\n', "\x00"]), st.text(max_size=8))


def both_ways(codec: Any, message: Any, field: str, elements: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """(JSON written from the plain values, JSON of the materialized message). Each path consumes
    its response, so each gets its own copy."""
    plain = codec.encode(PlainResponse(copy.deepcopy(message), field, copy.deepcopy(elements)))
    materialized = codec.encode(
        PlainResponse(copy.deepcopy(message), field, copy.deepcopy(elements)).materialize()
    )
    return plain, materialized


@st.composite
def plain_metric(draw: st.DrawFn, key: str) -> dict[str, Any]:
    """A metric as the store gives it: the fields that are set, in field-number order."""
    metric: dict[str, Any] = {"key": key}
    for name, values in (("value", doubles), ("timestamp", int64s), ("step", int64s)):
        if draw(st.integers(0, 9)):  # nearly always set
            metric[name] = draw(values)
    for name in ("dataset_name", "dataset_digest", "model_id"):
        if draw(st.booleans()):
            metric[name] = draw(texts)
    return metric


@st.composite
def metric_history(draw: st.DrawFn) -> tuple[api.GetMetricHistoryResponse, list[dict[str, Any]]]:
    key = draw(texts)
    elements = draw(st.lists(plain_metric(key), max_size=12))
    message = api.GetMetricHistoryResponse()
    token = draw(st.one_of(st.none(), texts))
    if token is not None:
        message.next_page_token = token
    return message, elements


@settings(max_examples=150, deadline=None)
@given(metric_history())
def test_a_plain_history_encodes_as_the_materialized_message(drawn):
    message, elements = drawn
    plain, materialized = both_ways(HISTORY, message, "metrics", elements)
    assert plain == materialized


def test_a_plain_history_reads_like_mlflow():
    elements = [
        {"key": "loss", "value": math.nan, "timestamp": 5, "step": 0},
        {"key": "loss", "value": -math.inf, "timestamp": 6, "step": -1, "model_id": "m-1"},
        {"key": "loss", "value": math.inf, "timestamp": 7, "step": INT64_MAX},
    ]
    message = api.GetMetricHistoryResponse(next_page_token="tok")
    body = HISTORY.encode(PlainResponse(message, "metrics", elements))
    assert orjson.loads(body) == {
        "metrics": [
            {"key": "loss", "value": "NaN", "timestamp": 5, "step": 0},
            {"key": "loss", "value": "-Infinity", "timestamp": 6, "step": -1, "model_id": "m-1"},
            {"key": "loss", "value": "Infinity", "timestamp": 7, "step": INT64_MAX},
        ],
        "next_page_token": "tok",
    }
    assert body.index(b'"metrics"') < body.index(b'"next_page_token"')


def test_no_elements_encode_as_the_message_alone():
    assert HISTORY.encode(PlainResponse(api.GetMetricHistoryResponse(), "metrics", [])) == b"{}"
    token_only = PlainResponse(api.GetMetricHistoryResponse(next_page_token="t"), "metrics", [])
    assert HISTORY.encode(token_only) == b'{"next_page_token":"t"}'


# --- nested plain values: runs ------------------------------------------------------------------


@st.composite
def plain_run(draw: st.DrawFn) -> dict[str, Any]:
    run: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for name, values in (
        ("run_id", texts),
        ("run_name", texts),
        ("experiment_id", texts),
        ("status", st.sampled_from([value.number for value in pb.RunStatus.DESCRIPTOR.values])),
        ("start_time", int64s),
        ("end_time", int64s),
        ("lifecycle_stage", texts),
    ):
        if draw(st.booleans()):
            info[name] = draw(values)
    if info or draw(st.booleans()):
        run["info"] = info
    if draw(st.booleans()):
        data: dict[str, Any] = {}
        data["metrics"] = draw(st.lists(plain_metric(draw(texts)), max_size=3))
        data["params"] = [
            {"key": k, "value": v} for k, v in draw(st.lists(st.tuples(texts, texts), max_size=2))
        ]
        data["tags"] = [
            {"key": k, "value": v} for k, v in draw(st.lists(st.tuples(texts, texts), max_size=2))
        ]
        run["data"] = data
    return run


@settings(max_examples=150, deadline=None)
@given(st.lists(plain_run(), max_size=4), st.one_of(st.none(), texts))
def test_plain_runs_encode_as_the_materialized_message(elements, token):
    message = api.SearchRunsResponse()
    if token is not None:
        message.next_page_token = token
    plain, materialized = both_ways(RUNS, message, "runs", elements)
    assert plain == materialized


# --- PlainNormalizer on the test proto ----------------------------------------------------------


def test_normalizer_refuses_maps_and_well_known_types(testproto):
    with pytest.raises(ValueError, match=r"gatewaytest\.Everything\.labels: plain values cannot hold maps"):
        PlainNormalizer().normalizer(testproto.Everything.DESCRIPTOR)


def test_a_type_needing_no_work_has_no_normalizer(testproto):
    assert PlainNormalizer().normalizer(testproto.Ordered.DESCRIPTOR) is None


def test_normalizer_writes_enum_names_and_drops_empty_lists(testproto):
    normalize = PlainNormalizer().normalizer(testproto.Book.DESCRIPTOR)
    assert normalize is not None
    book = {"shelf": "s", "pages": 0, "color": 2, "authors": [], "leaf": {"name": "n"}}
    normalize(book)
    assert book == {"shelf": "s", "pages": 0, "color": "GREEN", "leaf": {"name": "n"}}
    unknown = {"color": 99}
    normalize(unknown)
    assert unknown == {"color": 99}


@st.composite
def plain_book(draw: st.DrawFn, testproto: Any) -> dict[str, Any]:
    book: dict[str, Any] = {}
    fields: dict[str, st.SearchStrategy[Any]] = {
        "shelf": texts,
        "name": texts,
        "pages": int64s,
        "color": st.sampled_from([0, 1, 2, 7]),
        "authors": st.lists(texts, max_size=3),
        "leaf": st.fixed_dictionaries({}, optional={"name": texts, "size": int64s}),
    }
    for name, values in fields.items():
        if draw(st.booleans()):
            book[name] = draw(values)
    return book


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_normalized_books_are_what_the_message_encoder_writes(testproto, data):
    book = data.draw(plain_book(testproto))
    if "leaf" in book:  # field-number order inside the nested value too
        book["leaf"] = {name: book["leaf"][name] for name in ("name", "size") if name in book["leaf"]}
    expected = SHARED.codec(testproto.Book).to_json(testproto.Book(**book))
    normalize = PlainNormalizer().normalizer(testproto.Book.DESCRIPTOR)
    assert normalize is not None
    normalize(book)
    assert orjson.dumps(book) == orjson.dumps(expected)
