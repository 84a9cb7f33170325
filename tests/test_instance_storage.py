"""The instance storage in dagster.yaml: Dagster's own SQLite files, read back by stock Dagster."""

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import sqlalchemy
import yaml
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from conftest import ROOT, run_python
from filmgen_dagster.instance_storage import PooledSqliteStorage


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="items"))
def item(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"key": context.partition_key})


def _project_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def _instance(home: Path) -> dg.DagsterInstance:
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(home)}):
        return dg.DagsterInstance.from_config(str(home))


def test_runs_written_through_it_are_read_by_stock_dagster_sqlite(tmp_path: Path) -> None:
    home = _project_home(tmp_path)
    with _instance(home) as instance:
        assert instance.get_ref().storage_data.class_name == "PooledSqliteStorage"
        instance.add_dynamic_partitions("items", ["a", "b", "c"])
        for key in ("a", "b", "c"):
            assert dg.materialize([item], instance=instance, partition_key=key).success

    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"sqlite": {"base_dir": str(home)}}}))
    with _instance(stock) as instance:
        assert instance.get_ref().storage_data.class_name == "DagsterSqliteStorage"
        assert instance.get_materialized_partitions(dg.AssetKey("item")) == {"a", "b", "c"}
        assert len(instance.get_runs()) == 3
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in instance.get_runs())


def test_a_disposed_instance_leaves_no_database_open(tmp_path: Path) -> None:
    home = _project_home(tmp_path)
    with _instance(home) as instance:
        instance.add_dynamic_partitions("items", ["a"])
        assert dg.materialize([item], instance=instance, partition_key="a").success
        assert _open_files_under(home)
    assert _open_files_under(home) == []


def _open_files_under(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return [t for t in targets if t.startswith(str(folder))]


@pytest.mark.parametrize(("level", "pragma"), [("OFF", 0), ("full", 2)])
def test_connections_use_the_configured_synchronous_level(tmp_path: Path, level: str, pragma: int) -> None:
    storage = PooledSqliteStorage(str(tmp_path), synchronous=level)
    with storage.run_storage.connect() as conn:
        assert conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar() == pragma
    with storage.event_log_storage.index_connection() as conn:
        assert conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar() == pragma


def test_an_unknown_synchronous_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of OFF, NORMAL, FULL, EXTRA"):
        PooledSqliteStorage(str(tmp_path), synchronous="sometimes")


def _schema(path: Path) -> tuple[list, list]:
    with closing(sqlite3.connect(path)) as db:
        tables = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        return tables, db.execute("SELECT version_num FROM alembic_version").fetchall()


def test_a_run_database_is_the_one_stock_dagster_creates(tmp_path: Path) -> None:
    ours = PooledSqliteStorage(str(tmp_path / "ours")).event_log_storage
    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    for storage in (ours, stock):
        with storage.run_connection("run-1") as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    made = Path(ours.path_for_shard("run-1"))
    assert _schema(made) == _schema(Path(stock.path_for_shard("run-1")))
    assert _schema(made)[1], "the schema version is stamped"
    ours.dispose()
    # Nothing but the database is left in the folder Dagster lists runs from.
    assert sorted(p.name for p in made.parent.iterdir() if not p.name.startswith("index.db")) == ["run-1.db"]


def test_an_existing_run_database_is_kept(tmp_path: Path) -> None:
    storage = PooledSqliteStorage(str(tmp_path)).event_log_storage
    with storage.run_connection("run-1") as conn:
        conn.execute(sqlalchemy.text("INSERT INTO event_logs (run_id, event) VALUES ('run-1', 'kept')"))
    storage.dispose()
    reopened = PooledSqliteStorage(str(tmp_path)).event_log_storage
    with reopened.run_connection("run-1") as conn:
        assert conn.execute(sqlalchemy.text("SELECT event FROM event_logs")).scalars().all() == ["kept"]
    reopened.dispose()


def test_compute_logs_are_kept_for_the_ui_and_not_echoed(tmp_path: Path) -> None:
    home = _project_home(tmp_path)
    # In a process of its own: what the capture echoes would reach that process's stdout and stderr.
    script = """
import os, sys
import dagster as dg
from filmgen_dagster.instance_storage import FileComputeLogManager
with dg.DagsterInstance.get() as instance:
    manager = instance.compute_log_manager
    assert isinstance(manager, FileComputeLogManager)
    key = ["run-1", "compute_logs", "step"]
    with manager.capture_logs(key):
        print("to stdout", flush=True)
        os.write(2, b"to stderr from the fd\\n")  # what a subprocess of a step would write
    data = manager.get_log_data(key)
    assert manager.is_capture_complete(key)
    assert data.stdout.decode() == "to stdout\\n", data.stdout
    assert data.stderr.decode() == "to stderr from the fd\\n", data.stderr
    print(manager.get_captured_local_path(key, "out"))
"""
    done = run_python(script, {**os.environ, "DAGSTER_HOME": str(home)})
    assert "to stdout" not in done.stdout and "to stderr" not in done.stderr
    assert Path(done.stdout.strip().splitlines()[-1]).is_relative_to(home / "storage")


def test_a_new_home_reads_dagsters_migration_scripts_once(tmp_path: Path) -> None:
    """A new DAGSTER_HOME has its schema versions stamped and checked nine times; each of those used to
    read and compile all of Dagster's migration scripts again."""
    home = _project_home(tmp_path)
    # In a process of its own: the scripts are read once per process.
    script = """
from alembic.script import ScriptDirectory
import dagster as dg
reads = []
read = ScriptDirectory._load_revisions
ScriptDirectory._load_revisions = lambda self: reads.append(self.dir) or read(self)
with dg.DagsterInstance.get() as instance:
    instance.add_dynamic_partitions("items", ["a"])
    with instance.event_log_storage.run_connection("run-1"):
        pass
print(len(reads), len(set(reads)))
"""
    done = run_python(script, {**os.environ, "DAGSTER_HOME": str(home)})
    assert done.stdout.split() == ["1", "1"]
    for database in ("history/runs.db", "schedules/schedules.db", "history/runs/index.db", "history/runs/run-1.db"):
        assert _schema(home / database)[1], f"{database}: the schema version is stamped"
