from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest

# No model hub is reachable from tests: every model is built locally and loaded from a folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass
class FilmEnv:
    home: Path
    media: Path
    out: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DAGSTER_HOME": str(self.home), "FILMGEN_MEDIA_ROOT": str(self.media)}

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
