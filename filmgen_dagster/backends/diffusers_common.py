"""Loading a diffusers pipeline the way a profile describes it: class, revision, dtype, device, memory."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from filmgen_dagster.backends.torch_common import load_model, resolve_device, resolve_dtype
from filmgen_dagster.errors import ProfileError


def pipeline_problem(name: str) -> str | None:
    """Why ``name`` is no pipeline class to load, as the end of a sentence naming it; None when it is one.

    Looked up among diffusers' exports without importing the class, which would import its model code."""
    import diffusers

    pipelines = [export for export in dir(diffusers) if "Pipeline" in export]
    if name == "auto" or name in pipelines:
        return None
    close = difflib.get_close_matches(name, pipelines, n=1)
    fix = f"{close[0]} or auto" if close else "auto or a class name such as FluxPipeline"
    return f"is not a diffusers pipeline class (diffusers {diffusers.__version__}); use {fix}"


def pipeline_class(name: str, auto: str) -> Any:
    import diffusers

    cls = getattr(diffusers, auto if name == "auto" else name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise ProfileError(f"pipeline {name!r} {pipeline_problem(name) or 'is not a diffusers pipeline class'}")
    return cls


def load_pipeline(
    modality: str,
    *,
    model: str,
    revision: str | None,
    pipeline: str,
    auto: str,
    torch_dtype: str,
    device: str,
    enable_model_cpu_offload: bool,
    vae_tiling: bool,
    vae_slicing: bool,
    attention_slicing: bool,
    vae: str | None = None,
    prepare: Callable[[Any], None] | None = None,
) -> Any:
    """The pipeline, ready to call. ``vae`` replaces the checkpoint's VAE (a hub id or folder): e.g.
    madebyollin/sdxl-vae-fp16-fix, which decodes in float16 where SDXL's own VAE is cast to float32 and
    back on every call. ``prepare`` runs before memory options and placement: an adapter loaded after
    ``enable_model_cpu_offload`` would be missed by its hooks."""
    cls = pipeline_class(pipeline, auto)
    target = resolve_device(device)
    dtype = resolve_dtype(torch_dtype, target)
    components = {}
    if vae is not None:
        from diffusers import AutoModel

        components["vae"] = load_model(f"{modality} VAE", vae, lambda: AutoModel.from_pretrained(vae, dtype=dtype))
    pipe = load_model(
        modality, model, lambda: cls.from_pretrained(model, revision=revision, dtype=dtype, **components)
    )
    if prepare:
        prepare(pipe)
    try:
        # Tiling and slicing live on the VAE (the pipeline-level shortcuts are deprecated or gone).
        if vae_tiling:
            pipe.vae.enable_tiling()
        if vae_slicing:
            pipe.vae.enable_slicing()
        if attention_slicing:
            pipe.enable_attention_slicing()
    except (AttributeError, NotImplementedError) as exc:
        raise ProfileError(f"{modality} model {model!r}: a memory option is not supported ({exc})") from None
    if enable_model_cpu_offload:
        # Offload keeps weights on the CPU and moves each sub-model to the device only while it runs.
        pipe.enable_model_cpu_offload(device=target)
    else:
        pipe.to(target)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def call_parameters(pipe: Any) -> set[str]:
    """Names ``pipe.__call__`` accepts, so optional arguments go only to pipelines that take them."""
    return set(inspect.signature(pipe.__call__).parameters)


def generation_size(pipe: Any, width: int, height: int) -> tuple[int, int]:
    """Round down to a size the pipeline accepts. Most need twice the VAE's spatial factor (a UNet's
    first downsample, or the 2x2 latent patches of Flux, SD3, Wan, CogVideoX); LTX-Video patches
    1x1 on a 32x VAE and names its factor differently."""
    if hasattr(pipe, "vae_spatial_compression_ratio"):
        multiple = int(pipe.vae_spatial_compression_ratio)
    else:
        factor = getattr(pipe, "vae_scale_factor_spatial", None) or getattr(pipe, "vae_scale_factor", 8)
        multiple = 2 * int(factor)
    multiple = max(8, multiple)
    return max(multiple, width // multiple * multiple), max(multiple, height // multiple * multiple)


def to_frames(pixels: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A pipeline's pictures (``output_type="pt"``: N x C x h x w in [0, 1]) as N x H x W x 3 uint8 at ``size``
    (width, height; default their own), left on the pipeline's device. Done there, an SVD shot's resizing,
    rounding and retiming took 0.19 s on an H200; with numpy and PIL's Lanczos on the CPU, 1.29 s, a fifth
    of the shot."""
    pixels = pixels[:, :3].float()
    if size is not None and pixels.shape[-2:] != (size[1], size[0]):
        pixels = torch.nn.functional.interpolate(pixels, size=(size[1], size[0]), mode="bicubic", antialias=True)
    return (pixels.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1)


def to_image(pixels: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
    """The first of a pipeline's pictures (as ``to_frames`` takes them) as an RGB image."""
    return Image.fromarray(to_frames(pixels[:1], size)[0].cpu().numpy())
