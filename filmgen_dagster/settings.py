"""Where the instance and the media live, from the environment or the project's defaults."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def project_root() -> Path:
    """The nearest folder up from the working directory that holds workspace.yaml, else the cwd."""
    cwd = Path.cwd().resolve()
    return next((p for p in (cwd, *cwd.parents) if (p / "workspace.yaml").is_file()), cwd)


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or project_root() / ".dagster_home").resolve()


def media_root() -> Path:
    return Path(os.environ.get("FILMGEN_MEDIA_ROOT") or dagster_home() / "media").resolve()


def stories_dir() -> Path:
    """Where the UI-driven workflow finds stories: $FILMGEN_STORIES_DIR, else stories/ in the project."""
    return Path(os.environ.get("FILMGEN_STORIES_DIR") or project_root() / "stories").resolve()


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at the instance folder and give it the project's dagster.yaml."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        template = next(
            p for p in (_PACKAGE.parent / "dagster.yaml", _PACKAGE / "_data" / "dagster.yaml") if p.is_file()
        )
        # Renamed into place: a render starting at the same moment never reads half a file.
        partial = home / f".dagster.yaml.{os.getpid()}"
        shutil.copyfile(template, partial)
        os.replace(partial, config)
    return home


@contextmanager
def instance_lock() -> Iterator[None]:
    """Held while opening the instance: two renders starting on a fresh DAGSTER_HOME would both create
    its SQLite tables, and one would fail ("table runs already exists")."""
    with (prepare_dagster_home() / ".open.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
