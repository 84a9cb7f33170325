"""Unattended, under a real `dagster dev` (webserver + daemon): a story dropped into the inbox is queued,
the render window starts it, the sensors finish it, and the film lands in the S3 bucket."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from conftest import S3Server
from dagster_dev import DagsterDev, ui_environment
from filmgen_dagster.domain import FinalCutRecord
from filmgen_dagster.inbox import TICKET_TAG
from filmgen_dagster.sensors import RENDER_TAG

FILM = "the-lantern"
STORY = """The Lantern

Mira lit a lantern at the end of the harbour wall.

One by one the fishing boats turned towards the light and came home.
"""


def _ended(runs: list[dg.DagsterRun]) -> list[dg.DagsterRun] | None:
    return runs if all(run.is_finished for run in runs) else None


@pytest.fixture
def unattended(tmp_path, s3_server: S3Server):
    env, variables = ui_environment(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bucket = s3_server.new_bucket()
    server = DagsterDev(
        {
            **variables,
            "FILMGEN_INBOX": str(inbox),
            "FILMGEN_RENDER_CRON": "* * * * *",  # the window is always open: one tick a minute
            "FILMGEN_MEDIA_URL": f"s3://{bucket}/studio",
            "AWS_ENDPOINT_URL": s3_server.endpoint_url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        },
        tmp_path / "dagster-dev.log",
    )
    server.start()
    yield env, server, inbox, bucket
    server.stop()


def test_a_dropped_story_is_rendered_in_the_window_onto_s3(unattended, s3_server):
    env, ui, inbox, bucket = unattended
    dropped = inbox / "lantern.txt"
    dropped.write_text(STORY, encoding="utf-8")
    settled = time.time() - 60
    os.utime(dropped, (settled, settled))

    ui.wait_for("the film to be queued", lambda: FILM in env.instance().get_dynamic_partitions("films"), timeout=120)
    ui.wait_for(
        "the film report", lambda: ui.partition_statuses("film_report")["materializedPartitions"] == [FILM], timeout=900
    )
    runs = ui.wait_for("every run to end", lambda: _ended(env.instance().get_runs()), timeout=120)
    # Set-up (from the schedule), one run per shot, assembly: every one carries the render tag.
    assert {run.job_name for run in runs} == {"film_setup_job", "shot_job", "film_assembly_job"}
    assert all(run.tags.get(RENDER_TAG) == FILM for run in runs), [run.tags for run in runs]
    assert [run.tags.get("dagster/schedule_name") for run in runs if TICKET_TAG in run.tags] == ["render_window"]
    assert [run.status for run in runs if run.status != dg.DagsterRunStatus.SUCCESS] == []

    client = s3_server.client()
    record = FinalCutRecord.model_validate_json(
        client.get_object(Bucket=bucket, Key=f"studio/records/final_cut/{FILM}.json")["Body"].read()
    )
    secret = s3_server.secret_access_key.encode()
    # The daemon's, webserver's and code server's output, and the instance (runs, events, step logs).
    assert [p for p in (ui.log, *env.home.rglob("*")) if p.is_file() and secret in p.read_bytes()] == []
    head = client.head_object(Bucket=bucket, Key=f"studio/objects/{record.video.digest[:2]}/{record.video.name}")
    assert head["ContentLength"] == record.video.size > 0
