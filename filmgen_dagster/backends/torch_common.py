"""What every model backend shares: device and dtype choice, and loading with a clear error.

Imported only by model backends, so the animatic profile never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from filmgen_dagster.errors import ModelLoadError

T = TypeVar("T")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def model_id(model: str, revision: str | None) -> str:
    """How a model is named in metadata and manifests: the hub id or path, pinned revision included."""
    return f"{model}@{revision}" if revision else model


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is half precision on a GPU and float32 on a CPU (CPU kernels lack many fp16 ops)."""
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise ModelLoadError(f"torch_dtype {name!r} is not supported; use auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def load_model(modality: str, model: str, load: Callable[[], T]) -> T:
    """Run a ``from_pretrained`` call; a missing or unreachable model becomes one clear sentence."""
    try:
        return load()
    except (OSError, ValueError, EnvironmentError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"{modality} model {model!r} could not be loaded ({first[:200]}); "
            "give a local folder in Hugging Face format or a hub id reachable from this machine"
        ) from None


def seeded_generator(seed: int) -> torch.Generator:
    # CPU generators give the same noise on every machine; pipelines move the latents to the device.
    return torch.Generator("cpu").manual_seed(seed)
