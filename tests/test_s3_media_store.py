"""The media store on S3, against a real S3 API server (moto's server mode) on loopback."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import dagster as dg
import pytest

from conftest import S3Server
from filmgen_dagster.domain import MediaRef
from filmgen_dagster.errors import UserInputError
from filmgen_dagster.resources.s3_media_store import S3MediaStore, media_store_from_env

MIB = 1 << 20


@pytest.fixture
def credentials(s3_server: S3Server, monkeypatch) -> S3Server:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    return s3_server


def s3_store(server: S3Server, bucket: str, cache: Path) -> S3MediaStore:
    return S3MediaStore(
        root=str(cache),
        bucket=bucket,
        prefix="studio/media",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
        secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
        multipart_threshold_mb=5,
    )


@pytest.fixture
def bucket(credentials: S3Server) -> str:
    return credentials.new_bucket()


@pytest.fixture
def store(credentials, bucket, tmp_path) -> S3MediaStore:
    return s3_store(credentials, bucket, tmp_path / "writer")


@pytest.fixture
def reader(credentials, bucket, tmp_path) -> S3MediaStore:
    """Another machine: the same bucket, its own empty cache."""
    return s3_store(credentials, bucket, tmp_path / "reader")


def bucket_keys(server: S3Server, bucket: str) -> list[str]:
    return [item["Key"] for item in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def s3_calls(store: S3MediaStore, event: str) -> list[str]:
    """Names of the S3 operations the store's client performs from now on."""
    calls: list[str] = []
    store.client.meta.events.register(event, lambda model, **_: calls.append(model.name))
    return calls


def test_objects_and_records_live_in_the_bucket(store, reader, credentials, bucket, tmp_path):
    source = tmp_path / "frame.PNG"
    source.write_bytes(b"pixels")
    ref = store.put_file(source)
    assert ref == MediaRef(digest=hashlib.sha256(b"pixels").hexdigest(), ext=".png", size=6)
    store.write_record("keyframe", "film__s01-01", ref)

    assert sorted(bucket_keys(credentials, bucket)) == [
        f"studio/media/objects/{ref.digest[:2]}/{ref.name}",
        "studio/media/records/keyframe/film__s01-01.json",
    ]
    assert reader.read_record("keyframe", "film__s01-01", MediaRef) == ref
    assert reader.read_record("keyframe", "film__s01-02", MediaRef) is None
    # The reader downloads the object into its cache, keyed by content hash, on first use only.
    downloads = s3_calls(reader, "before-call.s3.GetObject")
    path = reader.local_path(ref)
    assert path.read_bytes() == b"pixels" and path.is_relative_to(tmp_path / "reader" / "cache")
    assert reader.local_path(ref) == path and downloads == ["GetObject"]
    with pytest.raises(FileNotFoundError, match=f"missing from the store at s3://{bucket}/studio/media"):
        reader.local_path(MediaRef(digest="0" * 64, ext=".png", size=1))

    store.delete_record("keyframe", "film__s01-01")
    assert reader.read_record("keyframe", "film__s01-01", MediaRef) is None


def test_same_content_is_uploaded_once(store, tmp_path):
    uploads = s3_calls(store, "before-call.s3")
    first = store.put_bytes(b"same bytes", ".wav")
    source = tmp_path / "again.wav"
    source.write_bytes(b"same bytes")
    assert store.put_file(source) == first
    assert store.put_bytes(b"same bytes", ".wav") == first
    assert [call for call in uploads if call != "HeadObject"] == ["PutObject"]
    assert store.put_bytes(b"other bytes", ".wav").digest != first.digest


def test_memo_recalls_only_what_is_still_in_the_bucket(store, reader, credentials, bucket):
    inputs = {"backend": "storyboard", "seed": 3}
    ref = store.put_bytes(b"image", ".png")
    store.remember("keyframe", inputs, ref)
    assert reader.recall("keyframe", inputs) == ref
    credentials.client().delete_object(Bucket=bucket, Key=f"studio/media/{store.object_key(ref)}")
    assert reader.recall("keyframe", inputs) is None


def test_large_files_upload_in_parts(store, reader, credentials, bucket, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(os.urandom(12 * MIB))  # above the 5 MiB threshold: 8 MiB parts
    calls = s3_calls(store, "before-call.s3")
    ref = store.put_file(clip)
    assert calls.count("UploadPart") == 2 and "CompleteMultipartUpload" in calls
    head = credentials.client().head_object(Bucket=bucket, Key=f"studio/media/{store.object_key(ref)}")
    assert head["ETag"].strip('"').endswith("-2") and head["ContentLength"] == 12 * MIB
    assert hashlib.sha256(reader.local_path(ref).read_bytes()).hexdigest() == ref.digest


def test_readers_never_see_a_partial_object(store, reader, tmp_path):
    clip = tmp_path / "film.mp4"
    clip.write_bytes(os.urandom(20 * MIB))
    ref = MediaRef(digest=hashlib.sha256(clip.read_bytes()).hexdigest(), ext=".mp4", size=20 * MIB)
    seen_mid_upload: list[bool] = []
    lock = threading.Lock()

    def look(**_):
        with lock:  # parts finish on several transfer threads
            seen_mid_upload.append(reader.has(ref))

    store.client.meta.events.register("after-call.s3.UploadPart", look)
    assert store.put_file(clip) == ref
    assert seen_mid_upload == [False, False, False]
    assert hashlib.sha256(reader.local_path(ref).read_bytes()).hexdigest() == ref.digest


def test_a_failed_upload_leaves_nothing_behind(store, reader, tmp_path):
    clip = tmp_path / "film.mp4"
    clip.write_bytes(os.urandom(12 * MIB))
    parts = []

    def drop_connection(**_):
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionError("connection lost")

    store.client.meta.events.register("before-call.s3.UploadPart", drop_connection)
    with pytest.raises(Exception, match="connection lost"):
        store.put_file(clip)
    ref = MediaRef(digest=hashlib.sha256(clip.read_bytes()).hexdigest(), ext=".mp4", size=12 * MIB)
    assert not reader.has(ref)
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    with pytest.raises(FileNotFoundError):
        store.local_path(ref)


def test_credentials_stay_out_of_reprs_and_run_config(store, credentials, monkeypatch, tmp_path):
    secret = credentials.secret_access_key
    assert secret not in repr(store)
    with dg.build_resources({"media": store}) as resources:
        resolved = resources.media
        assert resolved.read_record("keyframe", "none", MediaRef) is None  # it works with the real secret
        assert secret not in repr(resolved) and secret not in str(resolved)
    monkeypatch.setenv("FILMGEN_MEDIA_URL", "s3://bucket/some/prefix")
    monkeypatch.setenv("FILMGEN_MEDIA_ROOT", str(tmp_path / "cache"))
    from_env = media_store_from_env()
    assert (from_env.bucket, from_env.prefix, from_env.location()) == ("bucket", "some/prefix", "s3://bucket/some/prefix")
    # Dagster keeps only the variable's name in the resource's config (what the UI and run config show).
    assert from_env.secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    assert secret not in repr(from_env)


def test_a_bad_media_url_says_how_to_write_it(monkeypatch):
    monkeypatch.setenv("FILMGEN_MEDIA_URL", "bucket/prefix")
    with pytest.raises(UserInputError, match="^FILMGEN_MEDIA_URL 'bucket/prefix' is not an S3 URL; write it as s3://BUCKET/PREFIX$"):
        media_store_from_env()
