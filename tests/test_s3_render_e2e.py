"""End to end with media on S3: `filmgen render` against a real S3 API server, the film decoded from the bucket."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from conftest import S3Server, make_film_env
from filmgen_dagster.av import decode_frames, probe
from filmgen_dagster.domain import FinalCutRecord

STORY = """The Lantern

Mira lit a lantern at the end of the harbour wall.

One by one the fishing boats turned towards the light and came home.
"""


@pytest.fixture(scope="module")
def rendered(s3_server: S3Server, tmp_path_factory):
    base = tmp_path_factory.mktemp("s3-e2e")
    story = base / "lantern.txt"
    story.write_text(STORY, encoding="utf-8")
    bucket = s3_server.new_bucket()
    env = make_film_env(base)
    env.extra_env.update(
        FILMGEN_MEDIA_URL=f"s3://{bucket}/studio",
        AWS_ENDPOINT_URL=s3_server.endpoint_url,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=s3_server.access_key_id,
        AWS_SECRET_ACCESS_KEY=s3_server.secret_access_key,
    )
    result = env.render(story)
    assert result.returncode == 0, result.stderr
    return env, bucket, result


def test_the_final_cut_is_an_object_in_the_bucket_that_decodes(rendered, s3_server, tmp_path):
    env, bucket, result = rendered
    client = s3_server.client()
    record = FinalCutRecord.model_validate_json(
        client.get_object(Bucket=bucket, Key="studio/records/final_cut/the-lantern.json")["Body"].read()
    )
    key = f"studio/objects/{record.video.digest[:2]}/{record.video.name}"
    film = tmp_path / "film.mp4"
    client.download_file(bucket, key, str(film))
    assert film.read_bytes() == Path(result.stdout.strip().splitlines()[-1]).read_bytes()
    info = probe(film)
    assert [s.codec for s in info.streams if s.kind == "video"] == ["h264"]
    assert [s.codec for s in info.streams if s.kind == "audio"] == ["aac"]
    assert info.duration_s == pytest.approx(record.duration_s, abs=0.1)
    assert decode_frames(film, [info.duration_s / 2])[0].mean() > 20


def test_metadata_paths_are_the_objects_urls(rendered):
    env, bucket, _ = rendered
    instance = env.instance()
    final_cut = instance.get_latest_materialization_event(dg.AssetKey("final_cut")).asset_materialization.metadata
    digest = final_cut["sha256"].value
    assert final_cut["path"].value == f"s3://{bucket}/studio/objects/{digest[:2]}/{digest}.mp4"
    keyframe = instance.get_latest_materialization_event(dg.AssetKey("keyframe")).asset_materialization
    assert keyframe.metadata["path"].value.startswith(f"s3://{bucket}/studio/objects/")


def test_records_live_only_in_the_bucket(rendered, s3_server):
    env, bucket, _ = rendered
    keys = [item["Key"] for page in s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]
    assert {"studio/records/registration/the-lantern.json", "studio/records/film_report/the-lantern.json"} <= set(keys)
    # The local media root is only a cache of objects (by content hash) and scratch space.
    assert {p.name for p in env.media.iterdir()} <= {"cache", "tmp"}
    assert not list((env.media / "tmp").iterdir())


def test_the_secret_never_reaches_logs_metadata_or_output(rendered, s3_server):
    env, _, result = rendered
    secret = s3_server.secret_access_key.encode()
    assert secret not in result.stdout.encode() and secret not in result.stderr.encode()
    # The instance holds every run's config, event log and materialization metadata.
    files = {p: p.read_bytes() for p in env.home.rglob("*") if p.is_file()}
    assert any(b"the-lantern" in data for data in files.values())  # the search looks where the runs are
    assert [p for p, data in files.items() if secret in data] == []
