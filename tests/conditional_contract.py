"""What every backend's conditional writes must do, checked against its real
(or emulated) server by test_deploy_record.py, test_gcloud.py, test_azure.py
and test_filesystem.py."""

from __future__ import annotations

import pytest

from collectfast.deploy_guard import DeployGuard, DeployStopped
from collectfast.strategies.conditional import ConditionalStore, PreconditionFailed

NAME = ".collectfast/contract-test"


def check_compare_and_swap(store: ConditionalStore) -> None:
    """Create only if absent; replace only the version read; read it back."""
    assert store.read(NAME) is None
    first = store.write(NAME, b"one", None)
    with pytest.raises(PreconditionFailed):
        store.write(NAME, b"other", None)
    assert store.read(NAME) == (b"one", first)
    second = store.write(NAME, b"two", first)
    assert second != first
    with pytest.raises(PreconditionFailed):
        store.write(NAME, b"three", first)
    assert store.read(NAME) == (b"two", second)


def check_two_deploys_contend(store: ConditionalStore) -> None:
    """Two deploys that read the same record: one gets the lease, the other
    stops; a third, later, waits for the lease (stops); once released, the
    next one gets it."""
    first, second = (DeployGuard(store, lease_seconds=60) for _ in range(2))
    first.read()
    second.read()
    first.before_write()
    with pytest.raises(DeployStopped, match="changed the deploy record"):
        second.before_write()
    third = DeployGuard(store, lease_seconds=60)
    third.read()
    with pytest.raises(DeployStopped, match=r"another deploy \(\w+\) is writing to"):
        third.before_write()
    first.commit({}, listed={}, manifest_md5=None, tombstones=(), release=True)
    fourth = DeployGuard(store, lease_seconds=60)
    fourth.read()
    fourth.before_write()
    assert fourth.holding
