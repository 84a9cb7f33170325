"""The media store on S3 (or any S3-compatible server), and choosing the store from the environment.

Objects and records live in ``s3://bucket/prefix/``; ``root`` is a local cache of objects keyed by
content hash (so a step downloads only the media it opens, once) plus scratch space. A single PUT is
atomic, and a multipart upload becomes visible only when it completes, so readers never see part of
an object; steps write a record only after its objects are stored, so a record never points at
media that is not there yet.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
from pydantic import Field

from filmgen_dagster.domain import MediaRef
from filmgen_dagster.errors import UserInputError
from filmgen_dagster.resources.media_store import MediaStore, atomic_write, copy_into
from filmgen_dagster.settings import media_root

_MIB = 1 << 20
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(exc) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


def parse_s3_url(url: str, variable: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``, read from the environment variable ``variable``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UserInputError(f"{variable} {url!r} is not an S3 URL; write it as s3://BUCKET/PREFIX")
    return parsed.netloc, parsed.path.strip("/")


class S3Storage:
    """Keys under ``prefix`` in ``bucket``; content-addressed objects are cached under ``cache``."""

    def __init__(self, client, bucket: str, prefix: str, transfer, cache: Path):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.transfer, self.cache = transfer, cache

    def _s3_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._s3_key(key)}"

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._s3_key(key))
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    def put_file(self, key: str, source: Path) -> None:
        # upload_file switches to a multipart upload above the threshold (large clips and films).
        self.client.upload_file(str(source), self.bucket, self._s3_key(key), Config=self.transfer)
        copy_into(source, self.cache / key)  # the writer keeps it: no download if a later step opens it

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._s3_key(key), Body=data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._s3_key(key))["Body"].read()
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._s3_key(key))

    def local_file(self, key: str) -> Path | None:
        # Only content-addressed objects are opened as files, so a cached copy never goes stale.
        cached = self.cache / key
        if cached.is_file():
            return cached
        try:
            atomic_write(
                cached, lambda dst: self.client.download_fileobj(self.bucket, self._s3_key(key), dst, Config=self.transfer)
            )
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return cached

    def listing(self) -> dict[str, str]:
        """{key relative to the prefix: ETag} of every object under the prefix."""
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        return {item["Key"][len(start) :]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def _value(setting: str | None) -> str | None:
    # Inside a run Dagster hands the resource resolved values; outside (the CLI) they may still be EnvVars.
    return setting.get_value() if isinstance(setting, dg.EnvVar) else setting


class S3MediaStore(MediaStore):
    """Media store in an S3 bucket; ``root`` is the local cache and scratch folder."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = Field(default=None, description="an S3-compatible server; None for AWS")
    region_name: str | None = None
    # Set these with dg.EnvVar so only the variable names reach run config, logs and the UI.
    access_key_id: str | None = Field(default=None, repr=False)
    secret_access_key: str | None = Field(default=None, repr=False)
    multipart_threshold_mb: int = Field(default=64, description="files above this upload in parts")

    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @cached_property
    def client(self):
        # boto3 is imported here: it costs every process ~0.1 s, and most renders keep media on disk.
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=_value(self.access_key_id),
            aws_secret_access_key=_value(self.secret_access_key),
        )

    def storage(self) -> S3Storage:
        return self.storage_at(self.bucket, self.prefix)

    def path_metadata(self, ref: MediaRef) -> dg.MetadataValue:
        # The object's URL, which any machine can open; the local cache path would name this worker's disk,
        # and reaching it could download a whole film just to show where it is.
        return dg.MetadataValue.path(self.storage().url(self.object_key(ref)))

    def storage_at(self, bucket: str, prefix: str) -> S3Storage:
        """Keys under another bucket/prefix, with this store's connection (e.g. the story inbox)."""
        from boto3.s3.transfer import TransferConfig

        # Parts stay at boto3's 8 MiB: a transfer holds a few parts in memory per thread.
        transfer = TransferConfig(multipart_threshold=self.multipart_threshold_mb * _MIB)
        return S3Storage(self.client, bucket, prefix, transfer, self._root / "cache")


def media_store_from_env() -> MediaStore:
    """$FILMGEN_MEDIA_URL=s3://bucket/prefix puts media on S3 (endpoint, region and keys from the usual
    AWS_* variables; $FILMGEN_MEDIA_ROOT is then the local cache); otherwise media stay in
    $FILMGEN_MEDIA_ROOT."""
    url = os.environ.get("FILMGEN_MEDIA_URL")
    if not url:
        return MediaStore(root=str(media_root()))
    bucket, prefix = parse_s3_url(url, "FILMGEN_MEDIA_URL")
    credentials = {
        field: dg.EnvVar(variable)
        for field, variable in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY"))
        if variable in os.environ  # otherwise boto3 finds them (profile, instance role)
    }
    return S3MediaStore(
        root=str(media_root()),
        bucket=bucket,
        prefix=prefix,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        **credentials,
    )
