"""Scale-out on Celery: a real Redis and two real workers on loopback, one per queue, render a film.

The gpu worker sees one (stand-in) GPU, the cpu worker none. What each step recorded shows where it
ran: dagster-celery's engine event names the worker, and GPU steps record the device they leased.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from conftest import ROOT, FilmEnv, make_film_env
from dagster_dev import free_port
from filmgen_dagster.av import probe
from filmgen_dagster.domain import FilmPlan, FinalCutRecord
from filmgen_dagster.executors import CELERY_BROKER_ENV, EXECUTOR_ENV, celery_config
from filmgen_dagster.gpus import GPU_COUNT_ENV, GPU_POOL, ensure_gpu_pool_limit
from filmgen_dagster.jobs import FILM_ASSEMBLY_ASSETS, FILM_SETUP_ASSETS, SHOT_ASSETS

GPU_ASSETS = {"keyframe", "shot_narration", "clip", "music"}
WORKER_CONFIG = ROOT / "deploy" / "celery" / "worker.yaml"
STORY = """---
title: Two Lamps
---
# The quay

A lamp glows on the quay at dusk.

A second lamp answers from the boat.
"""


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started in its own session, with everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(what: str, condition, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"waited {timeout:.0f}s for {what}; see {log}")


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class CeleryCluster:
    """redis-server plus one dagster-celery worker per queue, sharing DAGSTER_HOME and the media root."""

    def __init__(self, film_env: FilmEnv, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.broker = f"redis://127.0.0.1:{self.port}/0"
        # dagster-celery starts `celery` from PATH.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**film_env.env, "PATH": path, EXECUTOR_ENV: "celery", CELERY_BROKER_ENV: self.broker}
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.processes.append(
            subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=(self.logs / f"{name}.log").open("ab"), stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )

    def start(self) -> None:
        redis = shutil.which("redis-server")
        assert redis, "redis-server is missing; `make test-system-deps` installs it"
        self._start("redis", [redis, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""], self.env)
        _wait_for("redis", lambda: _redis_answers(self.port), self.logs / "redis.log", 30)
        celery = Path(sys.executable).with_name("dagster-celery")
        # The gpu worker takes two tasks at once: only the pool keeps GPU steps from overlapping.
        for name, queue, gpus, slots in (("gpu", "gpu", "1", 2), ("cpu", "dagster", "0", 1)):
            self._start(
                name,
                [str(celery), "worker", "start", "-A", "dagster_celery.app", "-y", str(WORKER_CONFIG),
                 "-q", queue, "-n", name, "--", f"--concurrency={slots}"],
                {**self.env, GPU_COUNT_ENV: gpus},
            )  # fmt: skip
        from celery import Celery

        app = Celery(broker=self.broker, backend=self.broker)
        _wait_for(
            "both celery workers",
            lambda: {name.split("@")[0] for reply in app.control.ping(timeout=1) for name in reply} >= {"gpu", "cpu"},
            self.logs,
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)

    def execute(self, job: str, partition: str) -> subprocess.Popen:
        """A run of ``job`` for one partition, coordinated by its own process as a run worker would."""
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m", "filmgen_dagster.definitions",
             "-j", job, "--tags", json.dumps({"dagster/partition": partition})],
            env=self.env, cwd=ROOT, stdout=(self.logs / f"{job}.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip


def _run(cluster: CeleryCluster, job: str, partitions: list[str]) -> None:
    drivers = [cluster.execute(job, key) for key in partitions]
    for driver in drivers:
        assert driver.wait(600) == 0, f"{job} failed; see {cluster.logs}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp("celery")
    env = make_film_env(base)
    env.home.mkdir(parents=True)
    shutil.copyfile(ROOT / "dagster.yaml", env.home / "dagster.yaml")
    story = base / "two-lamps.md"
    story.write_text(STORY)
    # A small picture keeps the encode short; everything else is the animatic profile.
    profile = yaml.safe_load((ROOT / "profiles" / "animatic.yaml").read_text())
    profile["output"] = {"width": 320, "height": 180, "fps": 12}
    (base / "small.yaml").write_text(yaml.safe_dump(profile))
    logs = base / "logs"
    logs.mkdir()
    cluster = CeleryCluster(env, logs)
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(env.home), "FILMGEN_MEDIA_ROOT": str(env.media)}):
        from filmgen_dagster.definitions import build_definitions
        from filmgen_dagster.registry import register_film, sync_shot_partitions
        from filmgen_dagster.story_format import load_story

        media = build_definitions().resources["media"]
        instance = env.instance()
        with mock.patch.dict(os.environ, {GPU_COUNT_ENV: "1"}):
            assert ensure_gpu_pool_limit(instance) == 1
        film = register_film(instance, media, story, load_story(story), str(base / "small.yaml"))
        try:
            cluster.start()
            _run(cluster, "film_setup_job", [film])
            plan = media.read_record("scene_plan", film, FilmPlan)
            sync_shot_partitions(instance, plan)
            # Both shots at once: the pool (one slot) and the lease keep their GPU steps apart.
            _run(cluster, "shot_job", [shot.key for shot in plan.shots])
            _run(cluster, "film_assembly_job", [film])
        finally:
            cluster.stop()
        yield env, instance, media, plan


def _steps(instance: dg.DagsterInstance):
    """(run, step key, celery worker, step start, step end) of every step of every run."""
    for run in instance.get_runs():
        records = instance.all_logs(run.run_id)
        # dagster-celery's "Executing steps ... in celery worker" event, written by the worker itself.
        workers = {
            e.step_key: metadata["Celery worker"].value
            for e in records
            if e.is_dagster_event
            and e.dagster_event.is_engine_event
            and "Celery worker" in (metadata := e.dagster_event.engine_event_data.metadata)
        }
        times: dict[str, dict[str, float]] = {}
        for e in records:
            if e.is_dagster_event and e.dagster_event_type in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
                times.setdefault(e.step_key, {})[e.dagster_event_type.value] = e.timestamp
        for step, worker in workers.items():
            yield run, step, worker, times[step]["STEP_START"], times[step]["STEP_SUCCESS"]


def test_every_step_ran_on_its_queues_worker(rendered):
    _, instance, _, plan = rendered
    steps = list(_steps(instance))
    assert {step for _, step, _, _, _ in steps} == set(FILM_SETUP_ASSETS + SHOT_ASSETS + FILM_ASSEMBLY_ASSETS)
    assert len(steps) == len(FILM_SETUP_ASSETS) + len(SHOT_ASSETS) * len(plan.shots) + len(FILM_ASSEMBLY_ASSETS)
    for _, step, worker, _, _ in steps:
        assert worker.split("@")[0] == ("gpu" if step in GPU_ASSETS else "cpu"), (step, worker)


def test_gpu_steps_leased_the_gpu_workers_device(rendered):
    env, instance, _, plan = rendered
    for asset in GPU_ASSETS:
        keys = [plan.film_key] if asset == "music" else [shot.key for shot in plan.shots]
        for key in keys:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
            ).records
            assert records, (asset, key)
            assert records[0].asset_materialization.metadata["device"].value == "cuda:0", (asset, key)


def test_the_two_shots_took_turns_on_the_one_gpu(rendered):
    _, instance, _, _ = rendered
    spans = sorted((start, end) for _, step, _, start, end in _steps(instance) if step in GPU_ASSETS)
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:]))
    info = instance.event_log_storage.get_concurrency_info(GPU_POOL)
    assert (info.slot_count, info.claimed_slots, info.pending_steps) == (1, [], [])


def test_the_film_is_assembled(rendered):
    _, _, media, plan = rendered
    final = media.read_record("final_cut", plan.film_key, FinalCutRecord)
    info = probe(media.local_path(final.video))
    assert [(s.width, s.height) for s in info.streams if s.kind == "video"] == [(320, 180)]
    assert info.duration_s == pytest.approx(final.duration_s, abs=0.2) and final.duration_s > 4


def test_the_workers_read_the_executors_config():
    assert yaml.safe_load(WORKER_CONFIG.read_text())["execution"]["config"] == celery_config()
