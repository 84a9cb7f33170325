"""Like a user in the Dagster UI: start a film by materializing its story, see one injected shot
failure as one failed partition, clear the fault, backfill the failed partition, get the film."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_dev import DagsterDev, ui_environment
from filmgen_dagster.jobs import SHOT_ASSETS

FILM = "the-night-market"
FAILING = f"{FILM}__s01-02"


@pytest.fixture
def studio_ui(tmp_path):
    env, variables = ui_environment(tmp_path)
    servers: list[DagsterDev] = []

    def start(**extra: str) -> DagsterDev:
        server = DagsterDev({**variables, **extra}, tmp_path / "dagster-dev.log")
        servers.append(server)
        server.start()
        return server

    yield env, start
    for server in servers:
        server.stop()


def materialization_counts(instance, asset: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records:
        counts[record.partition_key] = counts.get(record.partition_key, 0) + 1
    return counts


def test_failed_shot_is_one_partition_and_is_repaired_alone(studio_ui):
    env, start = studio_ui
    ui = start(FILMGEN_FAIL_SHOTS=f"{FILM}:2")

    # The stories sensor registers the film; the user materializes its story; the rest follows.
    ui.wait_for("the film partition", lambda: FILM in env.instance().get_dynamic_partitions("films"))
    ui.materialize(["story"], FILM)
    shots = ui.wait_for("the shot partitions", lambda: env.instance().get_dynamic_partitions("shots"))
    assert len(shots) == 3 and FAILING in shots

    def settled():
        status = ui.partition_statuses("clip")
        done = status["materializedPartitions"] + status["failedPartitions"]
        return status if len(done) == 3 and not status["materializingPartitions"] else None

    status = ui.wait_for("every shot to finish or fail", settled)
    assert status["failedPartitions"] == [FAILING]
    assert FAILING not in status["materializedPartitions"]
    assert ui.partition_statuses("final_cut")["materializedPartitions"] == []
    ui.stop()

    # Fault cleared: backfill just the failed shot; the film assembles itself afterwards.
    before = materialization_counts(env.instance(), "clip")
    ui = start()
    failed = ui.partition_statuses("clip")["failedPartitions"]
    assert failed == [FAILING]
    ui.backfill(list(SHOT_ASSETS), failed)
    # film_report is the last step of the run that makes the final cut: waiting for the cut alone races it.
    ui.wait_for(
        "the film report",
        lambda: ui.partition_statuses("film_report")["materializedPartitions"] == [FILM],
        timeout=600,
    )
    assert ui.partition_statuses("final_cut")["materializedPartitions"] == [FILM]
    after = materialization_counts(env.instance(), "clip")
    assert after[FAILING] == 1 and FAILING not in before
    assert {k: v for k, v in after.items() if k != FAILING} == before  # no other shot was re-rendered
    assert ui.partition_statuses("clip")["failedPartitions"] == []
