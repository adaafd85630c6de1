"""Search grammar (filters, order_by), page tokens, and their translation into SQL."""

from polytrack_server.store.search.experiments import experiment_filter_conditions, experiment_order_terms
from polytrack_server.store.search.grammar import (
    Comparison,
    Identifier,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from polytrack_server.store.search.paging import decode_page_token, encode_page_token
from polytrack_server.store.search.runs import ordered_runs_query, run_filter_conditions

__all__ = [
    "Comparison",
    "Identifier",
    "OrderKey",
    "decode_page_token",
    "encode_page_token",
    "experiment_filter_conditions",
    "experiment_order_terms",
    "ordered_runs_query",
    "parse_filter",
    "parse_order_by",
    "run_filter_conditions",
]
