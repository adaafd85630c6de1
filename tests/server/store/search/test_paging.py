from __future__ import annotations

import base64

import pytest

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.search.paging import decode_page_token, encode_page_token


def test_token_is_base64_json_offset_like_mlflow():
    assert encode_page_token(1) == "eyJvZmZzZXQiOiAxfQ=="
    assert decode_page_token("eyJvZmZzZXQiOiAxfQ==") == 1


@pytest.mark.parametrize("offset", [0, 7, 1000, 123_456_789])
def test_round_trip(offset):
    assert decode_page_token(encode_page_token(offset)) == offset


@pytest.mark.parametrize("token", [None, ""])
def test_no_token_is_the_first_page(token):
    assert decode_page_token(token) == 0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        b64("not json"),
        b64("[1]"),
        b64('{"other": 1}'),
        b64('{"offset": "3"}'),
        b64('{"offset": -1}'),
        b64('{"offset": true}'),
        b64('{"offset": 1.5}'),
    ],
)
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(InvalidParameter, match="Invalid page token"):
        decode_page_token(token)
