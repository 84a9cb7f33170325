"""Dagster's local SQLite storage with its connections kept open (`storage: custom` in dagster.yaml),
and its local compute logs captured without echo processes (`compute_logs:`).

Same files, schema and behaviour as `storage: sqlite` (a run database per run, an index, runs and
schedules), so `dagster dev`, the daemon and `dagster instance` commands read it as usual. What
differs is for speed: a shot run stores about 45 events, and Dagster's SQLite storage opens a new
engine and connection for each of them:

- an engine (and its pooled connections) per database file, kept until the instance is disposed
  (the runs, the event index and the last few runs' event databases; schedules keep Dagster's way),
  instead of one engine per statement;
- ``PRAGMA synchronous`` from the config (default ``OFF``): without fsync on every commit a killed
  process still loses nothing, the OS holds its writes; a power cut could damage the run history,
  never the media, which the media store writes atomically on its own. Use ``FULL`` to restore it;
- a new run's database is a copy of an empty one this process made once, instead of Dagster creating
  its tables and stamping its schema version again for every run (~25 ms of CPU a run);
- tables found once are not looked up again (Dagster checks for its partitions table at every event
  of a partitioned run, with a new engine each time);
- Dagster's ~100 migration scripts are read once per process, not each time a database's schema
  version is checked or stamped (4 times when an instance opens, 9 when it makes a new DAGSTER_HOME:
  ~0.6 s of a render's start-up).

Compute logs: Dagster's local compute log manager echoes each run's captured stdout and stderr back
to the terminal through a `tail` process and a Python watcher process per stream: four processes started
and stopped for every run (~0.05 s each time, a minute over a 555-shot film). ``FileComputeLogManager``
writes the same files, which the UI shows as usual, and echoes nothing; `filmgen` prints its own
progress.

Production instances use Postgres (deploy/), which this leaves alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from alembic.script import ScriptDirectory
from dagster._config import Field, StringSource
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import ALEMBIC_SCRIPTS_LOCATION
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._utils import ensure_file, mkdir_p, touch_file

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
# Run databases whose engines stay open; a run's events all go to its own database, so a process
# rendering one shot after another needs one or two at a time.
OPEN_RUN_DATABASES = 4


class _Engines:
    """Engines by (database file, synchronous level), made on first use in this process: a forked child
    never uses its parent's connections. Run databases beyond the last few are closed."""

    def __init__(self) -> None:
        self._engines: dict[tuple[str, str], sqlalchemy.Engine] = {}
        self._run_databases: list[tuple[str, str]] = []
        self._inherited: list[dict] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self, conn_string: str, synchronous: str, run_database: bool = False) -> sqlalchemy.Engine:
        with self._lock:
            if self._pid != os.getpid():
                # Never closed here either: SQLite connections must not be touched across a fork.
                self._inherited.append(self._engines)
                self._engines, self._run_databases = {}, []
                self._pid = os.getpid()
            key = (conn_string, synchronous)
            engine = self._engines.get(key)
            if engine is None:
                engine = sqlalchemy.create_engine(conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                sqlalchemy.event.listen(
                    engine, "connect", lambda dbapi, _record: dbapi.execute(f"PRAGMA synchronous={synchronous}")
                )
                self._engines[key] = engine
                if run_database:
                    self._run_databases.append(key)
                    while len(self._run_databases) > OPEN_RUN_DATABASES:
                        self._engines.pop(self._run_databases.pop(0)).dispose()
            return engine

    def dispose(self, wanted: Callable[[str], bool]) -> None:
        """Close the engines of the databases whose connection string is ``wanted`` (a storage disposed)."""
        with self._lock:
            for key in [key for key in self._engines if wanted(key[0])]:
                self._engines.pop(key).dispose()
                if key in self._run_databases:
                    self._run_databases.remove(key)


_ENGINES = _Engines()


def _read_dagster_migration_scripts_once() -> None:
    """Dagster and alembic make a new ``ScriptDirectory`` (which reads and compiles every migration
    script) each time they check or stamp a schema version. The scripts do not change while a process
    runs: Dagster's location gets one, shared; any other location is left to alembic."""
    make = ScriptDirectory.from_config.__func__
    if getattr(make, "shared", False):  # this module was imported again (importlib.reload)
        return
    shared: dict[str, ScriptDirectory] = {}

    def from_config(cls, config) -> ScriptDirectory:
        location = config.get_alembic_option("script_location")
        if location != ALEMBIC_SCRIPTS_LOCATION:
            return make(cls, config)
        if location not in shared:
            shared[location] = make(cls, config)
        return shared[location]

    from_config.shared = True
    ScriptDirectory.from_config = classmethod(from_config)


_read_dagster_migration_scripts_once()


def _check_level(synchronous: str) -> str:
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"storage synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, got {synchronous!r}")
    return level


# An event database as Dagster creates one for a new run (tables, schema version stamp): made once per
# process, by Dagster's own code.
_EMPTY_RUN_DATABASE: list[bytes] = []


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, synchronous: str = "OFF", **kwargs) -> None:
        self.synchronous = _check_level(synchronous)
        self._tables_present: set[str] = set()
        super().__init__(base_dir, **kwargs)
        # Made now rather than at the first run, so processes forked from this one (the CLI's shot
        # workers) have it too instead of each making its own.
        self._empty_run_database()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sqlalchemy.Connection]:
        with self._db_lock:
            engine = _ENGINES.get(
                self.conn_string_for_shard(shard), self.synchronous, run_database=shard != INDEX_SHARD_NAME
            )
            if shard not in self._initialized_dbs:
                if shard == INDEX_SHARD_NAME or not self._create_run_database(shard):
                    self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _create_run_database(self, run_id: str) -> bool:
        """Make a new run's database from the empty one; False if it exists (Dagster then checks its schema)."""
        path = self.path_for_shard(run_id)
        if os.path.exists(path):
            return False
        with tempfile.NamedTemporaryFile(dir=self._base_dir, suffix=".new", delete=False) as new:
            new.write(self._empty_run_database())
        try:
            # A link never replaces a database another process has just created.
            os.link(new.name, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(new.name)
        return True

    def _empty_run_database(self) -> bytes:
        if not _EMPTY_RUN_DATABASE:
            with tempfile.TemporaryDirectory(prefix="filmgen-run-db-") as folder:
                engine = sqlalchemy.create_engine(f"sqlite:///{folder}/empty.db")
                self._initdb(engine)
                engine.dispose()  # the last connection closing folds the write-ahead log into the file
                _EMPTY_RUN_DATABASE.append(Path(folder, "empty.db").read_bytes())
        return _EMPTY_RUN_DATABASE[0]

    def has_table(self, table_name: str) -> bool:
        # Dagster's tables are never dropped: one that exists is not looked up again.
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present

    def dispose(self) -> None:
        super().dispose()
        folder = self.conn_string_for_shard(INDEX_SHARD_NAME).removesuffix(f"{INDEX_SHARD_NAME}.db")
        _ENGINES.dispose(lambda conn_string: conn_string.startswith(folder))


class PooledSqliteRunStorage(SqliteRunStorage):
    """Runs: one database, its engine kept open until the storage is disposed."""

    # PooledSqliteStorage sets the configured level once from_local returns; creating a new database
    # (inside from_local) runs with OFF.
    synchronous = "OFF"

    @contextmanager
    def connect(self) -> Iterator[sqlalchemy.Connection]:
        with _ENGINES.get(self._conn_string, self.synchronous).connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        _ENGINES.dispose(lambda conn_string: conn_string == self._conn_string)


class PooledSqliteStorage(DagsterSqliteStorage):
    """``storage: custom`` with ``module: filmgen_dagster.instance_storage``, ``class: PooledSqliteStorage``
    and ``config: {base_dir: ..., synchronous: OFF}`` (see dagster.yaml)."""

    def __init__(self, base_dir: str, synchronous: str = "OFF", inst_data=None) -> None:
        synchronous = _check_level(synchronous)
        self.base_dir = base_dir
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._run_storage.synchronous = synchronous
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir), synchronous)
        # Schedules and sensor ticks are few; Dagster never disposes this storage, so it keeps its own
        # connection per statement.
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        # DagsterSqliteStorage.__init__ would open the stock storages as well: start from its base.
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def config_type(cls):
        return {
            "base_dir": StringSource,
            "synchronous": Field(StringSource, is_required=False, default_value="OFF"),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteStorage:
        mkdir_p(config_value["base_dir"])
        return cls(inst_data=inst_data, **config_value)


class FileComputeLogManager(LocalComputeLogManager):
    """``compute_logs`` with ``module: filmgen_dagster.instance_storage``, ``class: FileComputeLogManager``:
    each run's stdout and stderr captured in the files Dagster's local manager uses (by default under
    ``$DAGSTER_HOME/storage``, where Dagster puts them), without echoing them to the terminal."""

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Iterator[CapturedLogContext]:
        out, err = (
            ensure_file(self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io]))
            for io in (ComputeIOType.STDOUT, ComputeIOType.STDERR)
        )
        with redirect_to_file(sys.stdout, out), redirect_to_file(sys.stderr, err):
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))

    # Without a configured base_dir, the instance's own storage folder ($DAGSTER_HOME/storage), known
    # once the instance registers itself.
    @property
    def _base_dir(self) -> str:
        return self._configured_base_dir or os.path.join(self._instance.root_directory, "storage")

    @_base_dir.setter
    def _base_dir(self, value: str | None) -> None:
        self._configured_base_dir = value

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False), "polling_timeout": Field(float, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> FileComputeLogManager:
        return cls(config_value.get("base_dir"), config_value.get("polling_timeout"), inst_data=inst_data)
