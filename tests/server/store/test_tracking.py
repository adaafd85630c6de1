from __future__ import annotations

import inspect

import pytest

from polytrack_server.store.interface import TrackingStore
from polytrack_server.store.tracking import SqlTrackingStore

CONTRACT = [
    name for name, member in inspect.getmembers(TrackingStore, inspect.isfunction) if not name.startswith("_")
]


def test_the_contract_has_methods():
    assert "log_batch" in CONTRACT and "search_runs" in CONTRACT


@pytest.mark.parametrize("name", CONTRACT)
def test_every_contract_method_is_implemented_with_its_signature(name):
    expected = inspect.signature(getattr(TrackingStore, name))
    actual = inspect.signature(getattr(SqlTrackingStore, name))
    assert list(actual.parameters) == list(expected.parameters)
    assert actual.return_annotation == expected.return_annotation


def test_store_is_usable_through_the_contract(store, experiment_id):
    contract: TrackingStore = store
    run = contract.create_run(experiment_id, "u", "r", 1, [])
    assert contract.get_run(run.info.run_id) == run
