"""The JSON codec: MLflow's request leniencies, its response form, errors naming the field, round trips."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.errors import InvalidParameter
from polytrack_server.gateway.codec import JsonCodecs, MessageCodec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Property tests share one registry: hypothesis runs each test many times within one fixture scope.
SHARED = JsonCodecs()


@pytest.fixture(scope="module")
def codecs() -> JsonCodecs:
    return JsonCodecs()


@pytest.fixture
def everything(codecs, testproto) -> MessageCodec:
    return codecs.codec(testproto.Everything)


def decode_error(codec: MessageCodec, value: object) -> str:
    with pytest.raises(InvalidParameter) as caught:
        codec.decode(value)
    return caught.value.message


# --- decoding ---------------------------------------------------------------------------------


def test_snake_case_and_lower_camel_case_keys_are_both_accepted(codecs):
    codec = codecs.codec(api.SearchRunsRequest)
    snake = codec.decode({"experiment_ids": ["1"], "max_results": 5, "run_view_type": "ALL"})
    camel = codec.decode({"experimentIds": ["1"], "maxResults": 5, "runViewType": "ALL"})
    assert snake == camel
    assert list(snake.experiment_ids) == ["1"] and snake.max_results == 5 and snake.run_view_type == pb.ALL


def test_both_spellings_of_one_field_are_refused(codecs):
    message = decode_error(codecs.codec(api.GetRunRequest), {"run_id": "a", "runId": "b"})
    assert "'run_id'" in message and "'runId'" in message


def test_unknown_keys_and_nulls_are_ignored(codecs):
    request = codecs.codec(api.GetRunRequest).decode({"run_id": "r1", "run_uuid": None, "bogus": {"x": 1}})
    assert request.run_id == "r1"
    assert not request.HasField("run_uuid")


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (42, 42),
        ("42", 42),
        ("+42", 42),
        ("-7", -7),
        (1e3, 1000),
        ("1e+05", 100000),
        ("1.7e+12", 1_700_000_000_000),
        (str(INT64_MAX), INT64_MAX),
        (str(INT64_MIN), INT64_MIN),
    ],
)
def test_int64_accepts_numbers_numeric_strings_and_r_style_exponents(everything, sent, expected):
    assert everything.decode({"big": sent}).big == expected


@pytest.mark.parametrize(
    "sent",
    ["abc", "1.5", 1.5, True, "", " 1", "1_000", str(INT64_MAX + 1), 2**63, [1, 2], {"a": 1}, "1e999999999"],
)
def test_int64_refuses_what_is_not_an_int64(everything, sent):
    message = decode_error(everything, {"big": sent})
    assert "for parameter 'big' supplied: expected an int64" in message


def test_int32_and_unsigned_ranges_are_enforced(everything):
    assert everything.decode({"small": str(2**31 - 1)}).small == 2**31 - 1
    assert "expected an int32" in decode_error(everything, {"small": 2**31})
    assert everything.decode({"bigUnsigned": str(2**64 - 1)}).big_unsigned == 2**64 - 1
    assert "expected a uint64" in decode_error(everything, {"big_unsigned": -1})
    assert "expected a uint32" in decode_error(everything, {"small_unsigned": 2**32})
    assert everything.decode({"zigzag": "-5", "fixed": "5"}).zigzag == -5


@pytest.mark.parametrize(
    ("sent", "check"),
    [
        (1.5, lambda v: v == 1.5),
        (3, lambda v: v == 3.0),
        ("2.5e-3", lambda v: v == 0.0025),
        ("-0.5", lambda v: v == -0.5),
        ("NaN", math.isnan),
        ("Infinity", lambda v: v == math.inf),
        ("-Infinity", lambda v: v == -math.inf),
        (math.nan, math.isnan),
    ],
)
def test_double_accepts_numbers_numeric_strings_and_non_finite_names(everything, sent, check):
    assert check(everything.decode({"ratio": sent}).ratio)


@pytest.mark.parametrize("sent", ["abc", "nan", "inf", "", True, [1.0], {"v": 1}])
def test_double_refuses_other_values_naming_the_field_and_value(everything, sent):
    message = decode_error(everything, {"ratio": sent})
    assert (
        message
        == f"Invalid value {orjson.dumps(sent).decode()} for parameter 'ratio' supplied: expected a double"
    )


def test_the_error_message_for_a_bad_metric_value_reads_like_mlflow(codecs):
    message = decode_error(codecs.codec(api.LogMetricRequest), {"value": "abc"})
    assert message == "Invalid value \"abc\" for parameter 'value' supplied: expected a double"


def test_float_refuses_values_beyond_float32(everything):
    assert everything.decode({"single": "0.5"}).single == 0.5
    assert "expected a float" in decode_error(everything, {"single": 1e39})


@pytest.mark.parametrize(
    ("sent", "expected"),
    [(True, True), (False, False), ("true", True), ("FALSE", False), ("True", True), ("tRuE", True)],
)
def test_bool_accepts_json_bools_and_their_names_in_any_case(everything, sent, expected):
    assert everything.decode({"flag": sent}).flag is expected


@pytest.mark.parametrize("sent", [1, 0, "yes", "", "t"])
def test_bool_refuses_numbers_and_other_strings(everything, sent):
    assert "for parameter 'flag' supplied: expected a boolean" in decode_error(everything, {"flag": sent})


def test_enums_accept_names_numbers_and_numeric_strings(everything, testproto):
    assert everything.decode({"color": "GREEN"}).color == 2
    assert everything.decode({"color": 1}).color == 1
    assert everything.decode({"color": "2"}).color == 2
    # Proto3 enums are open: a number the schema does not list is kept, as protobuf does.
    assert everything.decode({"color": 7}).color == 7
    assert list(everything.decode({"colors": ["RED", 2, "1"]}).colors) == [1, 2, 1]


def test_unknown_enum_names_are_refused_listing_the_names(everything):
    message = decode_error(everything, {"color": "BLUE"})
    assert message.startswith("Invalid value \"BLUE\" for parameter 'color' supplied: expected one of")
    assert "RED" in message and "GREEN" in message


def test_strings_must_be_strings(everything):
    assert "for parameter 'text' supplied: expected a string" in decode_error(everything, {"text": 5})


def test_bytes_are_base64_standard_or_url_safe_with_or_without_padding(everything):
    assert everything.decode({"blob": "aGk="}).blob == b"hi"
    assert everything.decode({"blob": "aGk"}).blob == b"hi"
    assert everything.decode({"blob": "-_8"}).blob == b"\xfb\xff"
    assert "base64" in decode_error(everything, {"blob": "!!"})


def test_a_single_value_where_a_list_is_expected_is_a_one_element_list(codecs, everything):
    request = codecs.codec(api.SearchRunsRequest).decode({"experiment_ids": "7", "order_by": "name"})
    assert list(request.experiment_ids) == ["7"] and list(request.order_by) == ["name"]
    assert [leaf.name for leaf in everything.decode({"leaves": {"name": "only"}}).leaves] == ["only"]


def test_nested_and_repeated_messages_with_numeric_strings(codecs):
    request = codecs.codec(api.LogBatchRequest).decode(
        {
            "run_id": "r",
            "metrics": [
                {"key": "loss", "value": "0.25", "timestamp": "1700000000000", "step": "3"},
                {"key": "acc", "value": "NaN", "timestamp": 1, "step": 0},
            ],
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "t", "value": ""}],
        }
    )
    assert request.metrics[0] == pb.Metric(key="loss", value=0.25, timestamp=1_700_000_000_000, step=3)
    assert math.isnan(request.metrics[1].value)
    assert request.params[0].value == "0.1"
    assert request.tags[0].HasField("value") and request.tags[0].value == ""


def test_errors_in_nested_lists_name_the_element(codecs, everything):
    message = decode_error(
        codecs.codec(api.LogBatchRequest), {"metrics": [{"key": "a"}, {"key": "b", "step": "x"}]}
    )
    assert message == "Invalid value \"x\" for parameter 'metrics[1].step' supplied: expected an int64"
    assert "'child.leaf.size'" in decode_error(everything, {"child": {"leaf": {"size": "big"}}})
    assert "'leaf' supplied: expected an object" in decode_error(everything, {"leaf": "name"})
    assert "'leaves_by_id[\"3\"].size'" in decode_error(everything, {"leaves_by_id": {"3": {"size": "x"}}})


def test_maps_decode_keys_from_strings(everything):
    message = everything.decode(
        {
            "labels": {"a": "1", "b": "2"},
            "leavesById": {"3": {"name": "three"}, "-4": {"size": "4"}},
            "ratio_by_flag": {"true": "NaN", "false": 0.5},
        }
    )
    assert dict(message.labels) == {"a": "1", "b": "2"}
    assert message.leaves_by_id[3].name == "three" and message.leaves_by_id[-4].size == 4
    assert math.isnan(message.ratio_by_flag[True]) and message.ratio_by_flag[False] == 0.5
    assert "leaves_by_id" in decode_error(everything, {"leaves_by_id": {"three": {}}})
    assert "expected an object" in decode_error(everything, {"labels": ["a"]})


def test_oneofs_proto3_plain_fields_keywords_and_well_known_types(everything):
    message = everything.decode(
        {
            "right": "9",
            "plainCount": "3",
            "plain_name": "p",
            "from": "kw",
            "when": "2020-01-01T00:00:00Z",
            "extra": {"a": [1, "x"]},
        }
    )
    assert message.WhichOneof("choice") == "right" and message.right == 9
    assert message.plain_count == 3 and message.plain_name == "p"
    assert getattr(message, "from") == "kw"
    assert message.when.seconds == 1_577_836_800
    assert message.extra["a"][1] == "x"
    assert "google.protobuf.Timestamp" in decode_error(everything, {"when": "yesterday"})


def test_the_top_level_value_must_be_an_object(everything):
    assert decode_error(everything, ["a"]) == "Expected a JSON object for Everything, got list"


# --- query strings ----------------------------------------------------------------------------


def test_query_strings_fill_repeated_fields_from_repeated_keys(codecs):
    request = codecs.codec(api.SearchRunsRequest).decode_query(
        [
            ("experiment_ids", "1"),
            ("order_by", "a"),
            ("experiment_ids", "2"),
            ("order_by", "b"),
            ("max_results", "10"),
            ("runViewType", "DELETED_ONLY"),
        ]
    )
    assert list(request.experiment_ids) == ["1", "2"]
    assert list(request.order_by) == ["a", "b"]
    assert request.max_results == 10 and request.run_view_type == pb.DELETED_ONLY


def test_query_strings_refuse_both_spellings_of_a_field(codecs):
    with pytest.raises(InvalidParameter, match="'experiment_ids' was supplied twice"):
        codecs.codec(api.SearchRunsRequest).decode_query([("experiment_ids", "1"), ("experimentIds", "2")])


def test_query_string_values_are_converted_like_json_strings(everything):
    message = everything.decode_query(
        [
            ("flag", "True"),
            ("ratio", "Infinity"),
            ("color", "RED"),
            ("big", "12"),
            ("leaf.name", "n"),
            ("leaf.size", "3"),
        ]
    )
    assert message.flag is True and message.ratio == math.inf and message.color == 1 and message.big == 12
    assert message.leaf == message.leaf.__class__(name="n", size=3)


def test_query_string_errors_name_the_field(codecs, everything):
    with pytest.raises(InvalidParameter, match=r"Invalid value \"ten\" for parameter 'max_results'"):
        codecs.codec(api.SearchExperimentsRequest).decode_query([("max_results", "ten")])
    with pytest.raises(InvalidParameter, match=r"Invalid value \[\"1\",\"2\"\] for parameter 'big'"):
        everything.decode_query([("big", "1"), ("big", "2")])
    with pytest.raises(InvalidParameter, match="'leaf' cannot be both a value and an object"):
        everything.decode_query([("leaf", "x"), ("leaf.name", "y")])


def test_blank_query_values_set_empty_strings(codecs):
    request = codecs.codec(api.SearchExperimentsRequest).decode_query([("page_token", "")])
    assert request.HasField("page_token") and request.page_token == ""


# --- path variables ---------------------------------------------------------------------------


def test_field_setters_convert_path_text(codecs, testproto):
    codec = codecs.codec(testproto.Everything)
    message = testproto.Everything()
    codec.field_setter("big")(message, "77")
    codec.field_setter("child.leaf.name")(message, "deep")
    assert message.big == 77 and message.child.leaf.name == "deep"
    with pytest.raises(InvalidParameter, match="for parameter 'big' supplied: expected an int64"):
        codec.field_setter("big")(message, "x")
    for bad in ("nope", "leaf", "texts", "leaves.name", "text.x"):
        with pytest.raises(ValueError):
            codec.field_setter(bad)


# --- encoding ---------------------------------------------------------------------------------


def test_responses_use_snake_case_int64_numbers_enum_names_and_only_set_fields(codecs):
    response = api.GetRunResponse(
        run=pb.Run(
            info=pb.RunInfo(run_id="r", user_id="", status=pb.FINISHED, start_time=2**62 + 1),
            data=pb.RunData(metrics=[pb.Metric(key="m", value=math.nan, timestamp=1, step=0)]),
            inputs=pb.RunInputs(),
        )
    )
    assert orjson.loads(codecs.codec(api.GetRunResponse).encode(response)) == {
        "run": {
            "info": {"run_id": "r", "user_id": "", "status": "FINISHED", "start_time": 2**62 + 1},
            "data": {"metrics": [{"key": "m", "value": "NaN", "timestamp": 1, "step": 0}]},
            "inputs": {},
        }
    }


def test_an_empty_response_is_an_empty_object(codecs):
    assert codecs.codec(api.LogBatchResponse).encode(api.LogBatchResponse()) == b"{}"


def test_fields_are_encoded_in_field_number_order(codecs, testproto):
    encoded = codecs.codec(testproto.Ordered).encode(testproto.Ordered(second="2", first="1"))
    assert encoded == b'{"first":"1","second":"2"}'


def test_non_finite_doubles_become_their_proto_json_names(everything, testproto):
    message = testproto.Everything(
        ratio=math.inf, single=-math.inf, ratios=[1.5, math.nan, -math.inf], ratio_by_flag={True: math.inf}
    )
    assert everything.to_json(message) == {
        "ratio": "Infinity",
        "single": "-Infinity",
        "ratios": [1.5, "NaN", "-Infinity"],
        "ratio_by_flag": {"true": "Infinity"},
    }


def test_every_shape_encodes(everything, testproto):
    message = testproto.Everything(
        text="",
        small=-1,
        big=INT64_MIN,
        big_unsigned=2**64 - 1,
        flag=False,
        blob=b"hi",
        color=2,
        leaf=testproto.Leaf(),
        texts=["a", "b"],
        bigs=[INT64_MAX],
        colors=[1, 9],
        leaves=[testproto.Leaf(size=1)],
        labels={"k": "v"},
        leaves_by_id={5: testproto.Leaf(name="five")},
        plain_count=0,
        plain_name="named",
        child=testproto.Everything(right=4),
        left="l",
        when={"seconds": 0},
        extra={"x": None},
        **{"from": "kw"},
    )
    assert everything.to_json(message) == {
        "text": "",
        "small": -1,
        "big": INT64_MIN,
        "big_unsigned": 2**64 - 1,
        "flag": False,
        "blob": "aGk=",
        "color": "GREEN",
        "leaf": {},
        "texts": ["a", "b"],
        "bigs": [INT64_MAX],
        "colors": ["RED", 9],
        "leaves": [{"size": 1}],
        "labels": {"k": "v"},
        "leaves_by_id": {"5": {"name": "five"}},
        "plain_name": "named",
        "child": {"right": 4},
        "left": "l",
        "when": "1970-01-01T00:00:00Z",
        "extra": {"x": None},
        "from": "kw",
    }


def test_recursive_types_encode_and_decode(everything, testproto):
    deep = {"child": {"child": {"child": {"text": "bottom"}}}}
    message = everything.decode(deep)
    assert message.child.child.child.text == "bottom"
    assert everything.to_json(message) == deep


# --- round trips ------------------------------------------------------------------------------

metric_fields = st.fixed_dictionaries(
    {},
    optional={
        "key": st.text(),
        "value": st.floats(allow_nan=True, allow_infinity=True),
        "timestamp": st.integers(INT64_MIN, INT64_MAX),
        "step": st.integers(INT64_MIN, INT64_MAX),
        "dataset_name": st.text(),
        "run_id": st.text(max_size=5),
    },
)


@given(metrics=st.lists(metric_fields, max_size=5), run_id=st.none() | st.text())
def test_encoding_then_decoding_is_the_identity(metrics, run_id):
    codec = SHARED.codec(api.LogBatchRequest)
    message = api.LogBatchRequest(metrics=[pb.Metric(**fields) for fields in metrics])
    if run_id is not None:
        message.run_id = run_id
    encoded = codec.encode(message)
    decoded = codec.decode(orjson.loads(encoded))
    # Compare encodings: NaN != NaN would defeat message equality.
    assert codec.encode(decoded) == encoded
    assert [len(m.ListFields()) for m in decoded.metrics] == [len(fields) for fields in metrics]


@given(number=st.integers(INT64_MIN, INT64_MAX), as_text=st.booleans(), camel=st.booleans())
def test_any_int64_decodes_from_number_or_text(number, as_text, camel):
    codec = SHARED.codec(api.SearchExperimentsRequest)
    key = "maxResults" if camel else "max_results"
    assert codec.decode({key: str(number) if as_text else number}).max_results == number


@given(value=st.floats(allow_nan=False, allow_infinity=True))
def test_any_double_survives_its_text_form(value):
    codec = SHARED.codec(api.LogMetricRequest)
    text = {math.inf: "Infinity", -math.inf: "-Infinity"}.get(value, repr(value))
    assert codec.decode({"value": text}).value == value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
# Keys the decoder knows (both spellings, nested ones too) mixed with arbitrary ones.
known_keys = st.sampled_from(
    [
        "text",
        "small",
        "big",
        "bigUnsigned",
        "ratio",
        "single",
        "flag",
        "blob",
        "color",
        "leaf",
        "texts",
        "bigs",
        "colors",
        "leaves",
        "labels",
        "leavesById",
        "ratio_by_flag",
        "plainCount",
        "child",
        "left",
        "right",
        "when",
        "extra",
        "from",
        "name",
        "size",
    ]
)
json_objects = st.recursive(
    st.dictionaries(known_keys | st.text(max_size=4), json_values, max_size=6),
    lambda inner: st.dictionaries(known_keys, inner | json_values, max_size=4),
    max_leaves=8,
)


@given(value=json_objects)
def test_any_json_object_decodes_or_fails_with_invalid_parameter(testproto, value):
    # testproto is session-scoped, which hypothesis allows: it does not change between examples.
    codec = SHARED.codec(testproto.Everything)
    try:
        message = codec.decode(value)
    except InvalidParameter as error:
        assert "parameter '" in error.message
    else:
        assert isinstance(message, testproto.Everything)
