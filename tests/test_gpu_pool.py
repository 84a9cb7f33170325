"""One GPU machine: the `gpu` pool sized to the GPUs, and each running GPU step on its own device.

No GPU here: FILMGEN_GPU_COUNT stands in for detection; the leases are real file locks taken by
real processes.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from unittest import mock

import pytest
import yaml

from conftest import ROOT, FilmEnv
from filmgen_dagster.errors import UserInputError
from filmgen_dagster.gpus import GPU_COUNT_ENV, GPU_POOL, gpu_count, gpu_lease
from filmgen_dagster.profiles import BACKEND_KINDS, build_backends

HOLD_S = 0.5


class DeviceProbe:
    """A backend that only remembers the device it was built for."""

    backend_id = model_id = "device-probe"

    def __init__(self, device: str = "auto") -> None:
        self.device = device


def _hold_a_gpu(home: str, gpus: int, results, hold_s: float) -> None:
    os.environ.update({"DAGSTER_HOME": home, GPU_COUNT_ENV: str(gpus)})
    with gpu_lease() as device:
        started = time.monotonic()
        time.sleep(hold_s)
        results.put((device, started, time.monotonic()))


def _hold_until_killed(home: str, holding) -> None:
    os.environ.update({"DAGSTER_HOME": home, GPU_COUNT_ENV: "1"})
    with gpu_lease():
        holding.set()
        time.sleep(600)


def test_gpu_count_comes_from_the_override_or_the_visible_devices(monkeypatch):
    monkeypatch.setenv(GPU_COUNT_ENV, "3")
    assert gpu_count() == 3
    monkeypatch.delenv(GPU_COUNT_ENV)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert gpu_count() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_count() == 0
    monkeypatch.setenv(GPU_COUNT_ENV, "two")
    with pytest.raises(UserInputError, match="FILMGEN_GPU_COUNT='two' is not a number"):
        gpu_count()


def _fresh_home(film_env: FilmEnv) -> dict[str, str]:
    film_env.home.mkdir(parents=True)
    shutil.copyfile(ROOT / "dagster.yaml", film_env.home / "dagster.yaml")
    return film_env.env


def _gpu_pool_cli(env: dict[str, str], gpus: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "gpu-pool"],
        env={**env, GPU_COUNT_ENV: gpus}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_pool_limit_defaults_to_the_gpu_count_and_keeps_an_operators_choice(film_env):
    env = _fresh_home(film_env)
    assert _gpu_pool_cli(env, "2") == "pool gpu: 2 slot(s)"
    assert film_env.instance().event_log_storage.get_concurrency_info(GPU_POOL).slot_count == 2
    # An operator's `dagster instance concurrency set gpu 5` is never overwritten.
    film_env.instance().event_log_storage.set_concurrency_slots(GPU_POOL, 5)
    assert _gpu_pool_cli(env, "2") == "pool gpu: 5 slot(s)"


def test_no_gpu_leaves_the_pool_unlimited(film_env):
    env = _fresh_home(film_env)
    assert _gpu_pool_cli(env, "0") == "pool gpu: unlimited (no GPU found; GPU steps run on CPUs)"
    assert GPU_POOL not in film_env.instance().event_log_storage.get_concurrency_keys()


def test_concurrent_gpu_steps_each_hold_their_own_device(tmp_path):
    """Five processes want a GPU at once on a two-GPU machine: two run, three wait their turn."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_hold_a_gpu, args=(str(tmp_path), 2, results, HOLD_S)) for _ in range(5)]
    for worker in workers:
        worker.start()
    held = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0
    assert {device for device, _, _ in held} == {"cuda:0", "cuda:1"}
    for device in ("cuda:0", "cuda:1"):
        spans = sorted((start, end) for d, start, end in held if d == device)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), f"{device} shared"
    # At no moment were more than two devices held.
    moments = sorted([(start, 1) for _, start, _ in held] + [(end, -1) for _, _, end in held])
    running = peak = 0
    for _, change in moments:
        running += change
        peak = max(peak, running)
    assert peak == 2


def test_a_killed_step_gives_its_gpu_back(tmp_path, monkeypatch):
    context = multiprocessing.get_context("fork")
    holding = context.Event()
    holder = context.Process(target=_hold_until_killed, args=(str(tmp_path), holding))
    holder.start()
    assert holding.wait(60)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(GPU_COUNT_ENV, "1")
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    started = time.monotonic()
    with gpu_lease() as device:
        assert device == "cuda:0"
    assert time.monotonic() - started < 5


def test_the_leased_device_reaches_model_backends(tmp_path, monkeypatch):
    """A backend left on `auto` is built on the leased GPU; one the profile pins keeps its device;
    one without a device (the storyboard) is built as before."""
    for modality in ("music", "speech"):
        monkeypatch.setitem(BACKEND_KINDS[modality], "device-probe", f"{__name__}:DeviceProbe")
    profile = yaml.safe_load((ROOT / "profiles" / "animatic.yaml").read_text())
    profile["backends"]["music"] = {"kind": "device-probe"}
    profile["backends"]["speech"] = {"kind": "device-probe", "device": "cpu"}
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(profile))
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": str(tmp_path / "home"), GPU_COUNT_ENV: "2"}):
        with gpu_lease() as first, gpu_lease() as second:
            assert (first, second) == ("cuda:0", "cuda:1")
            backends = build_backends(str(path), second)
            assert backends.load("music")[0].device == "cuda:1"
            assert backends.load("speech")[0].device == "cpu"
            assert backends.load("image")[0].backend_id == "storyboard"
    build_backends.cache_clear()
