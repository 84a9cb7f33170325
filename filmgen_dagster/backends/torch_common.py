"""What every model backend shares: device and dtype choice, and loading with a clear error.

Imported only by model backends, so the animatic profile never imports torch.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import torch

from filmgen_dagster.errors import ModelLoadError

T = TypeVar("T")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def model_id(model: str, revision: str | None) -> str:
    """How a model is named in metadata and manifests: the hub id or path, pinned revision included."""
    return f"{model}@{revision}" if revision else model


# What a profile's `device` may name.
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICES = "auto, cpu, cuda, cuda:N or mps"


def device_problem(device: str) -> str | None:
    """Why this process cannot use ``device``, as the end of a sentence that names it; None if it can.

    Fork-safe: counting GPUs goes through NVML, where ``torch.cuda.is_available()`` would start the CUDA
    driver, which the CLI's forked shot workers could then not use."""
    if not DEVICE.fullmatch(device):
        return f"is not a device; use {DEVICES}"
    if device.startswith("cuda"):
        if not torch.backends.cuda.is_built():
            return f"but this torch ({torch.__version__}) has no CUDA; use device: auto or cpu"
        gpus = torch.cuda.device_count()
        if gpus == 0:
            return f"but torch {torch.__version__} sees no CUDA GPU here; use device: auto or cpu"
        if int(device.partition(":")[2] or 0) >= gpus:
            return f"but this machine has {gpus} CUDA GPU(s), cuda:0 to cuda:{gpus - 1}"
    if device == "mps" and not torch.backends.mps.is_available():
        return "but MPS is not available here; use device: auto or cpu"
    return None


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    problem = device_problem(device)
    if problem:
        raise ModelLoadError(f"device {device!r} {problem}")
    return torch.device(device)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is half precision on a GPU and float32 on a CPU (CPU kernels lack many fp16 ops)."""
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise ModelLoadError(f"torch_dtype {name!r} is not supported; use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


# Models that could not be loaded because the hub was unreachable, with the sentence saying so: a later
# load in this process fails at once instead of retrying for half a minute (huggingface_hub's backoff).
_UNREACHABLE: dict[str, str] = {}


def load_model(modality: str, model: str, load: Callable[[], T]) -> T:
    """Run a ``from_pretrained`` call; a missing or unreachable model becomes one clear sentence."""
    if model in _UNREACHABLE:
        raise ModelLoadError(_UNREACHABLE[model])
    try:
        return load()
    except (OSError, ValueError, EnvironmentError) as exc:
        if _unreachable(exc):
            from huggingface_hub import constants

            host = urlsplit(constants.ENDPOINT).netloc
            _UNREACHABLE[model] = (
                f"{modality} model {model!r} could not be loaded: {host} is unreachable and {model} is not (fully) "
                f"in the Hugging Face cache (HF_HOME={constants.HF_HOME}); download it, or set HF_HUB_OFFLINE=1 "
                "with a cached model"
            )
            raise ModelLoadError(_UNREACHABLE[model]) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{modality} model {model!r} could not be loaded ({first[:200]}); "
            "give a local folder in Hugging Face format or a hub id reachable from this machine"
        ) from None


def _unreachable(exc: BaseException) -> bool:
    """Whether a connection failure (refused, name not resolved, timed out) lies under ``exc``: the
    libraries report it as a missing file, the cause only in the exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        # httpx and requests wrap the socket error in their own ConnectError / ConnectionError.
        if isinstance(seen, (ConnectionError, socket.gaierror, TimeoutError)) or type(seen).__name__ in (
            "ConnectError",
            "ConnectTimeout",
            "ConnectionError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def seeded_generator(seed: int) -> torch.Generator:
    # CPU generators give the same noise on every machine; pipelines move the latents to the device.
    return torch.Generator("cpu").manual_seed(seed)
