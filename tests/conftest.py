from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

# No model hub is reachable from tests: every model is built locally and loaded from a folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_python(code: str, env: dict[str, str] | None = None, *args: str) -> subprocess.CompletedProcess:
    """``python -c code *args`` in a fresh process (nothing this test process set carries over); it must
    exit 0."""
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@dataclass
class FilmEnv:
    home: Path
    media: Path
    out: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DAGSTER_HOME": str(self.home), "FILMGEN_MEDIA_ROOT": str(self.media), **self.extra_env}

    def render(self, story: Path, *args: str) -> subprocess.CompletedProcess:
        """``filmgen render`` exactly as a user runs it, in its own process."""
        return subprocess.run(
            [sys.executable, "-m", "filmgen_dagster.cli", "render", str(story), "--out", str(self.out), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def instance(self):
        import dagster as dg

        # dagster.yaml reads DAGSTER_HOME while the instance is built.
        with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(self.home)}):
            return dg.DagsterInstance.from_config(str(self.home))


def make_film_env(base: Path) -> FilmEnv:
    return FilmEnv(home=base / "dagster_home", media=base / "media", out=base / "out")


@pytest.fixture
def film_env(tmp_path: Path) -> FilmEnv:
    return make_film_env(tmp_path)


@dataclass
class S3Server:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self) -> str:
        name = f"films-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    """A real S3 API server (moto's server mode) in its own process on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start; see {log.name}") from None
                time.sleep(0.2)
        # A distinctive secret, so tests can prove it never reaches logs, metadata or reprs.
        yield S3Server(url, "filmgen-test-key", f"filmgen-secret-{uuid.uuid4().hex}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def tiny_profile(tmp_path_factory) -> Path:
    """``filmgen tiny-models DIR`` as a user runs it, once per session: tiny random checkpoints of every
    studio backend and the profile that uses them."""
    models = tmp_path_factory.mktemp("tiny") / "models"
    built = subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "tiny-models", str(models)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    profile = Path(built.stdout.strip().splitlines()[-1])
    assert profile == models / "profile.yaml"
    return profile
