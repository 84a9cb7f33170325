"""GPUs on one machine: how many there are, the `gpu` pool's limit, and one device per running step.

The pool bounds how many GPU steps run at once across all runs; the lease decides which GPU each
of them uses. A lease is an exclusive ``flock`` on one file per GPU index under
``$DAGSTER_HOME/gpu-leases/<hostname>``: every process of the instance on this machine sees it (a
DAGSTER_HOME shared by several machines keeps their GPUs apart), and the kernel drops it when its
process exits, so a killed step never keeps a GPU.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from filmgen_dagster.errors import UserInputError
from filmgen_dagster.settings import dagster_home

GPU_POOL = "gpu"
# Where a GPU step runs when the run is scaled out: the Celery executor sends it to the `gpu` queue
# (other steps go to the default `dagster` queue), the Kubernetes executor gives its pod one GPU.
CELERY_QUEUE_TAG = "dagster-celery/queue"
K8S_CONFIG_TAG = "dagster-k8s/config"
GPU_OP_TAGS = {
    CELERY_QUEUE_TAG: "gpu",
    K8S_CONFIG_TAG: {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {
            # GPU nodes are usually tainted so that only pods asking for a GPU land there.
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        },
    },
}
# What makes an asset a GPU step: `@dg.asset(..., **GPU_STEP)`.
GPU_STEP = {"pool": GPU_POOL, "op_tags": GPU_OP_TAGS}
# Overrides detection: a machine's GPUs reserved for other work, or tests without a GPU.
GPU_COUNT_ENV = "FILMGEN_GPU_COUNT"
_WAIT_S = 0.2
# The device this process leased last: models already loaded there are reused when it is free.
_last_index: int | None = None


def gpu_count() -> int:
    """$FILMGEN_GPU_COUNT, else the devices in $CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`, else 0.

    Counted without torch, so the animatic profile never imports it.
    """
    if (forced := os.environ.get(GPU_COUNT_ENV, "").strip()) != "":
        if not forced.isdigit():
            raise UserInputError(f"{GPU_COUNT_ENV}={forced!r} is not a number; set it to how many GPUs to use, e.g. 2")
        return int(forced)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def ensure_gpu_pool_limit(instance: dg.DagsterInstance) -> int | None:
    """Give the `gpu` pool one slot per GPU unless an operator already set its limit.

    Returns the pool's limit, or None when it stays unlimited (no GPU: the animatic runs on CPUs).
    dagster.yaml cannot count GPUs, so this runs where they are: `filmgen gpu-pool`, `filmgen render`
    and `make dev` call it.
    """
    storage = instance.event_log_storage
    if GPU_POOL in storage.get_concurrency_keys():
        return storage.get_concurrency_info(GPU_POOL).slot_count
    count = gpu_count()
    if count == 0:
        return None
    storage.set_concurrency_slots(GPU_POOL, count)
    return count


@contextmanager
def gpu_lease() -> Iterator[str | None]:
    """Hold one GPU for the duration of a step: yields ``cuda:N``, or None on a machine without GPUs.

    Waits while every GPU is leased (the pool normally prevents that; `filmgen render --jobs` larger
    than the GPU count, or another instance on the same machine, can cause it).
    """
    global _last_index
    count = gpu_count()
    if count == 0:
        yield None
        return
    folder = dagster_home() / "gpu-leases" / socket.gethostname()
    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(count))
    if _last_index is not None and _last_index < count:
        order.remove(_last_index)
        order.insert(0, _last_index)
    while True:
        for index in order:
            handle = open(folder / f"gpu-{index}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                _last_index = index
                yield f"cuda:{index}"
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(_WAIT_S)
