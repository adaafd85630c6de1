"""The one rule every paged RPC's response follows."""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message

from polytrack_server.store.interface import Page

ResponseT = TypeVar("ResponseT", bound=Message)


def paged(response: ResponseT, page: Page[Any]) -> ResponseT:
    """`response` carrying `page`'s `next_page_token`, which stays unset on the last page (MLflow
    leaves the field out there, and clients stop on its absence)."""
    if page.next_page_token:
        response.next_page_token = page.next_page_token  # type: ignore[attr-defined]
    return response
