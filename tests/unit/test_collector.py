"""The garbage-collector policy of a serving process (rfq/collector.py): it freezes the heap when
the state is loaded, after a resync and after every collection, thaws it for one full collection
every hour, and leaves the collector as it found it when uninstalled; gateways and the RFQ service of
a node that owns its process run it."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

from rfq.cluster.service import RfqService
from rfq.collector import YOUNG_THRESHOLD, CollectorPolicy
from rfq.gateway.core import GatewayCore
from rfq.gateway.identity import Directory
from rfq.gateway.testing import FakeCluster


def test_install_sets_the_young_threshold_and_uninstall_restores_everything() -> None:
    before, callbacks = gc.get_threshold(), list(gc.callbacks)
    policy = CollectorPolicy()
    policy.install()
    try:
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        policy.state_loaded("state_loaded")
        assert policy.freezes == 1 and gc.get_freeze_count() > 0
    finally:
        policy.uninstall()
    assert gc.get_threshold() == before
    assert gc.callbacks == callbacks
    assert gc.get_freeze_count() == 0


def test_every_collection_freezes_its_survivors() -> None:
    policy = CollectorPolicy()
    policy.install()
    try:
        gc.collect(0)
        assert policy.freezes == 1 and gc.get_freeze_count() > 0
        gc.collect()
        assert policy.freezes == 2
    finally:
        policy.uninstall()


def test_after_the_thaw_interval_nothing_is_frozen_until_a_full_collection_scanned_everything() -> None:
    policy = CollectorPolicy(thaw_interval_s=0.0)
    policy.install()
    try:
        policy.state_loaded("state_loaded")
        gc.collect(0)  # the interval has passed: thawed
        assert policy.thaws == 1 and gc.get_freeze_count() == 0
        gc.collect(1)
        policy.state_loaded("resync")
        assert policy.freezes == 1 and gc.get_freeze_count() == 0
        gc.collect()  # the whole heap scanned: frozen again
        assert policy.freezes == 2 and gc.get_freeze_count() > 0
    finally:
        policy.uninstall()


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    policy = CollectorPolicy()
    policy.install()
    try:
        kept = [[n] for n in range(1_000)]
        policy.state_loaded("state_loaded")
        frozen = gc.get_freeze_count()
        del kept
        assert gc.get_freeze_count() <= frozen - 1_000
    finally:
        policy.uninstall()


def test_nothing_happens_unless_installed() -> None:
    policy = CollectorPolicy()
    policy.state_loaded("resync")
    policy.uninstall()
    assert policy.freezes == 0 and gc.get_freeze_count() == 0


def test_the_core_tells_its_sync_listeners_once_the_state_is_loaded(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        heard: list[str] = []
        core = GatewayCore(Directory(tmp_path / "gw.sqlite"), FakeCluster().transport_factory(), 1)
        core.add_sync_listener(heard.append)
        await core.start()
        try:
            assert await core.wait_ready(10)
        finally:
            await core.stop()
        return heard

    assert asyncio.run(asyncio.wait_for(scenario(), 20)) == ["state_loaded"]


def test_a_service_that_owns_its_process_runs_the_policy_from_its_start_to_its_end() -> None:
    callbacks = list(gc.callbacks)
    service = RfqService(tune_collector=True)
    service.on_start(cluster=None, snapshot_image=None)
    try:
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD and len(gc.callbacks) == len(callbacks) + 1
        gc.collect(0)
        assert gc.get_freeze_count() > 0  # the young collection's survivors, frozen
    finally:
        service.on_terminate()
    assert gc.callbacks == callbacks and gc.get_freeze_count() == 0


def test_a_service_sharing_its_process_leaves_the_collector_alone() -> None:
    callbacks = list(gc.callbacks)
    service = RfqService()
    service.on_start(cluster=None, snapshot_image=None)
    service.on_terminate()
    gc.unfreeze()  # on_start's own freeze of the loaded state
    assert gc.callbacks == callbacks
