"""The deploy record's conditional writes, on every backend's real (or
emulated) server: what tests/conditional_contract.py demands."""

from __future__ import annotations

from django.contrib.staticfiles.storage import staticfiles_storage

from collectfast.strategies import strategy_for
from tests.conditional_contract import check_compare_and_swap, check_two_deploys_contend
from tests.contract.sites import Store


def test_conditional_writes_are_compare_and_swap(store: Store):
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    conditional = strategy.conditional_store()
    assert conditional is not None
    check_compare_and_swap(conditional)
    check_two_deploys_contend(conditional)
