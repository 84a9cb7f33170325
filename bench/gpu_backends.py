"""Studio backends at real architecture size on random weights: load time, shot time and overhead.

    python bench/gpu_backends.py [--scale full|tiny] [--device auto|cuda|cpu] [--shots N]
                                 [--only image,video,music] [--workdir DIR] [--dry-run]

--scale full builds, from configs alone (no model hub), an SDXL-size text-to-image pipeline, an
SVD-size image-to-video pipeline and a MusicGen-small-size model, saves each with save_pretrained
and loads it through the real backend class with the studio profile's settings (image at 1024x576,
video with 4 steps instead of 25). It needs a CUDA GPU and stops at once on a CPU, where the SDXL
UNet alone is 10 GB of float32 and a shot takes hours. --scale tiny does the same with the project's
tiny checkpoints and the tiny profile, so the whole script runs on a CPU in about a minute.
--dry-run builds each full-size model on the meta device and prints parameter counts (no memory).

Per modality: build_s (null when reused from --workdir), load_s (the backend constructor) and
first_shot_s (warm-up: CUDA kernels compile and cache on first use, so it is left out of the means),
then means over the other shots: shot_s (one backend call); compute_s (inside the denoiser forward
and the VAE decoder, or MusicGen's decoder and audio decoder; the hooks synchronize CUDA);
other_s = shot_s - compute_s (encoders, scheduler, pre- and post-processing, Python; encode_s is the
encoders' part of it); overhead_ratio = other_s / compute_s (goal <= 0.03 on a GPU); non_model_ratio
counts the encoders as model work too: (other_s - encode_s) / (compute_s + encode_s);
load_per_shot_s = load_s + first_shot_s (a fresh process for every shot, as a run under the in-process
executor is, pays the load and the warm-up each time; the imports come on top) and
load_once_speedup = load_per_shot_s / shot_s; vram_peak_gb on CUDA. The checkpoints were just
written, so load_s reads them from the page cache: a cold disk adds their size over its bandwidth.
The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is first imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from filmgen_dagster.backends.base import MusicCue  # noqa: E402
from filmgen_dagster.backends.diffusers_image import DiffusersImage  # noqa: E402
from filmgen_dagster.backends.diffusers_video import DiffusersVideo  # noqa: E402
from filmgen_dagster.backends.musicgen import MusicGen  # noqa: E402
from filmgen_dagster.backends.torch_common import resolve_device  # noqa: E402
from filmgen_dagster.domain import CameraMove, Framing, Mood, ShotPrompt  # noqa: E402
from filmgen_dagster.tiny import TINY_PROFILE  # noqa: E402
from filmgen_dagster.tiny.diffusion import build_tiny_image2video, build_tiny_text2image  # noqa: E402
from filmgen_dagster.tiny.transformers_models import build_tiny_musicgen  # noqa: E402

Models = dict[str, torch.nn.Module]
MODALITIES = ("image", "video", "music")
BACKENDS = {"image": DiffusersImage, "video": DiffusersVideo, "music": MusicGen}
TINY_BUILDERS = {"image": build_tiny_text2image, "video": build_tiny_image2video, "music": build_tiny_musicgen}
# The studio profile's settings, at the size this benchmark is about and with few video steps, so a
# full run of every modality fits a 10-minute command.
FULL_OVERRIDES: dict[str, dict[str, Any]] = {
    "image": {"width": 1024, "height": 576},
    "video": {"num_inference_steps": 4},
    "music": {},
}
MUSIC_S = 10.0  # one cue
# What compute_s and encode_s time, for the table.
COMPUTE = {"image": "UNet + VAE decoder", "video": "UNet + VAE decoder", "music": "LM decoder + EnCodec decoder"}
ENCODERS = {"image": "text encoders", "video": "image encoder + VAE encoder", "music": "T5 encoder"}

# The released configs (stabilityai/stable-diffusion-xl-base-1.0, stable-video-diffusion-img2vid-xt,
# facebook/musicgen-small); what is not named is the class default, which matches them.
SDXL_UNET = {
    "sample_size": 128,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,  # both text encoders' hidden states side by side: 768 + 1280
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,  # pooled text embedding (1280) + 6 size/crop ids x 256
}
SD_VAE_ENCODER = {
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "layers_per_block": 2,
}
SDXL_VAE = {
    **SD_VAE_ENCODER,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "sample_size": 1024,
    "scaling_factor": 0.13025,
}
SVD_VAE = {**SD_VAE_ENCODER, "sample_size": 768}  # the temporal decoder takes the same widths
CLIP_L_TEXT = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
}
CLIP_BIGG_TEXT = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "projection_dim": 1280,
    "hidden_act": "gelu",
}
VIT_H_14 = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "patch_size": 14,
    "image_size": 224,
    "projection_dim": 1024,
    "hidden_act": "gelu",
}
ENCODEC_32KHZ = {
    "sampling_rate": 32_000,
    "upsampling_ratios": [8, 5, 4, 4],  # hop 640 samples: 50 frames per second
    "num_filters": 64,
    "codebook_size": 2048,
    "codebook_dim": 128,
    "target_bandwidths": [2.2],  # 4 codebooks at 50 frames/s and 11 bits per code
    "use_causal_conv": False,
    "use_conv_shortcut": False,
}
T5_BASE = {"d_model": 768, "d_ff": 3072, "d_kv": 64, "num_layers": 12, "num_heads": 12}
MUSICGEN_SMALL_DECODER = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "ffn_dim": 4096,
    "num_codebooks": 4,
    "vocab_size": 2048,
    "pad_token_id": 2048,  # the pad/start token is the first id past the codebook
    "bos_token_id": 2048,
}


def construct(make: Callable[[], Models], device: torch.device) -> Models:
    """Random init on the target device (seconds on a GPU), in float16 on CUDA as the backend loads it,
    so the saved files need no cast either."""
    torch.manual_seed(0)
    with torch.device(device):
        models = make()
    if device.type == "cuda":
        models = {name: model.to(torch.float16) for name, model in models.items()}
    return models


def full_image(tiny: Path, device: torch.device, path: Path | None) -> Models:
    from diffusers import AutoencoderKL, StableDiffusionPipeline, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    # The tiny checkpoint's tokenizer and scheduler: prompts still pad to 77 tokens, so the encoders do
    # the real work, and the scheduler's settings do not change the work per step.
    parts = StableDiffusionPipeline.from_pretrained(tiny)
    tok = parts.tokenizer
    ids = {
        "vocab_size": len(tok),
        "max_position_embeddings": 77,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    models = construct(
        lambda: {
            "unet": UNet2DConditionModel(**SDXL_UNET),
            "vae": AutoencoderKL(**SDXL_VAE),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**CLIP_L_TEXT, **ids)),
            "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_BIGG_TEXT, **ids)),
        },
        device,
    )
    if path is not None:
        StableDiffusionXLPipeline(
            **models, tokenizer=tok, tokenizer_2=tok, scheduler=parts.scheduler
        ).save_pretrained(path)
    return models


def full_video(tiny: Path, device: torch.device, path: Path | None) -> Models:
    from diffusers import AutoencoderKLTemporalDecoder, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    models = construct(
        lambda: {
            "unet": UNetSpatioTemporalConditionModel(),
            "vae": AutoencoderKLTemporalDecoder(**SVD_VAE),
            "image_encoder": CLIPVisionModelWithProjection(CLIPVisionConfig(**VIT_H_14)),
        },
        device,
    )
    if path is not None:
        # The tiny checkpoint's SVD scheduler and 224 px image processor are the real ones.
        parts = StableVideoDiffusionPipeline.from_pretrained(tiny)
        StableVideoDiffusionPipeline(
            **models, scheduler=parts.scheduler, feature_extractor=parts.feature_extractor
        ).save_pretrained(path)
    return models


def full_music(tiny: Path, device: torch.device, path: Path | None) -> Models:
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    # The tiny checkpoint's character-level tokenizer: a prompt is ~80 tokens instead of ~20, which
    # the decoder's cross-attention barely notices next to its self-attention over the audio so far.
    processor = MusicgenProcessor.from_pretrained(tiny)
    processor.feature_extractor.sampling_rate = ENCODEC_32KHZ["sampling_rate"]
    config = MusicgenConfig(
        text_encoder=T5Config(vocab_size=len(processor.tokenizer), **T5_BASE).to_dict(),
        audio_encoder=EncodecConfig(**ENCODEC_32KHZ).to_dict(),
        decoder=MusicgenDecoderConfig(**MUSICGEN_SMALL_DECODER).to_dict(),
    )
    models = construct(lambda: {"model": MusicgenForConditionalGeneration(config)}, device)
    if path is not None:
        processor.save_pretrained(path)
        models["model"].save_pretrained(path)
    return models


FULL_BUILDERS = {"image": full_image, "video": full_video, "music": full_music}


def ensure(path: Path, build: Callable[[Path], Any]) -> float | None:
    """Build into ``path`` unless a finished build is there; seconds taken, None when reused.
    A build goes to a side folder renamed at the end, so an interrupted one is never reused."""
    if path.exists():
        return None
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    started = time.perf_counter()
    build(partial)
    partial.rename(path)
    return time.perf_counter() - started


def release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def parameters(models: Any) -> int:
    return sum(p.numel() for m in models if isinstance(m, torch.nn.Module) for p in m.parameters())


class Stopwatch:
    """Seconds spent inside the forward calls of some modules (none of which runs inside another).
    Synchronizing at both ends makes it GPU time and leaves queued work from outside to "other"."""

    def __init__(self, modules: list[torch.nn.Module | None], sync: Callable[[], None]) -> None:
        self.seconds = 0.0
        self._sync = sync
        for module in filter(None, modules):
            module.register_forward_pre_hook(self._start)
            module.register_forward_hook(self._stop)

    def _start(self, module: torch.nn.Module, args: Any) -> None:
        self._sync()
        self._started = time.perf_counter()

    def _stop(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        self._sync()
        self.seconds += time.perf_counter() - self._started


def watched(modality: str, backend: Any) -> tuple[list, list, list]:
    """The backend's modules: all, compute (denoiser, decoders), encoders."""
    if modality == "music":
        model = backend.model
        compute = [model.decoder, model.audio_encoder.decoder]
        return [model], compute, [model.text_encoder, getattr(model, "enc_to_dec_proj", None)]
    pipe, vae = backend.pipe, backend.pipe.vae
    compute = [pipe.unet, vae.decoder, getattr(vae, "post_quant_conv", None)]
    encoders = [getattr(pipe, name, None) for name in ("text_encoder", "text_encoder_2", "image_encoder")]
    return list(pipe.components.values()), compute, [*encoders, vae.encoder, vae.quant_conv]


def shot_prompt(seed: int) -> ShotPrompt:
    return ShotPrompt(
        shot_key=f"bench__s01-{seed:02d}",
        prompt="a lighthouse keeper winds a brass clock at dusk, cinematic, warm light",
        negative_prompt="blurry, low quality",
        seed=seed,
        style="cinematic",
        characters=[],
        caption="Mira winds the clock.",
        scene_heading="INT. LIGHTHOUSE - DUSK",
        shot_label=f"Scene 1 · Shot {seed + 1}",
        framing=Framing.medium,
        camera=CameraMove.push_in,
        mood=Mood.calm,
    )


def shot(modality: str, backend: Any, index: int, output: dict[str, int]) -> Callable[[], Any]:
    """Shot ``index`` as a call of the backend (its inputs made beforehand, outside the timing)."""
    width, height, fps = output["width"], output["height"], output["fps"]
    if modality == "image":
        prompt = shot_prompt(index)
        return lambda: backend.render_keyframe(prompt, width, height)
    if modality == "video":
        noise = np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)
        keyframe, prompt = Image.fromarray(noise), shot_prompt(index)
        # The most film frames that one model call of max_frames frames covers: one chunk, retimed.
        n_frames = backend.max_frames * fps // backend.model_fps
        return lambda: list(backend.frames(keyframe, prompt, n_frames, fps))
    # A different hint is a different prompt, so a different seed.
    cue = MusicCue(start_s=0.0, duration_s=MUSIC_S, mood=Mood.calm, hint=f"take {index}")
    return lambda: list(backend.compose([cue], MUSIC_S))  # compose yields the score block by block


def bench(modality: str, path: Path, settings: dict[str, Any], output: dict[str, int], shots: int) -> dict:
    device = torch.device(settings["device"])
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    release(device)
    started = time.perf_counter()
    backend = BACKENDS[modality](str(path), **settings)
    sync()
    load_s = time.perf_counter() - started
    everything, compute_modules, encoders = watched(modality, backend)
    compute, encode = Stopwatch(compute_modules, sync), Stopwatch(encoders, sync)
    rows = []
    for index in range(shots):
        call = shot(modality, backend, index, output)
        before = compute.seconds, encode.seconds
        started = time.perf_counter()
        call()
        sync()
        rows.append((time.perf_counter() - started, compute.seconds - before[0], encode.seconds - before[1]))
        print(f"  {modality} shot {index + 1}/{shots}: {rows[-1][0]:.3f} s", file=sys.stderr, flush=True)
    shot_s, compute_s, encode_s = (statistics.fmean(column) for column in zip(*rows[1:]))
    result = {
        "params": parameters(everything),
        "load_s": load_s,
        "first_shot_s": rows[0][0],
        "shot_s": shot_s,
        "compute_s": compute_s,
        "encode_s": encode_s,
        "other_s": shot_s - compute_s,
        "overhead_ratio": (shot_s - compute_s) / compute_s,
        "non_model_ratio": (shot_s - compute_s - encode_s) / (compute_s + encode_s),
        "load_per_shot_s": load_s + rows[0][0],
        "load_once_speedup": (load_s + rows[0][0]) / shot_s,
        "vram_peak_gb": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }
    del backend, everything, compute_modules, encoders
    release(device)
    return result


def settings_for(scale: str, modality: str, device: torch.device) -> tuple[dict[str, Any], dict[str, int]]:
    """The backend's keyword arguments and the film's output size, from the tiny or the studio profile."""
    if scale == "tiny":
        profile: dict[str, Any] = TINY_PROFILE
    else:
        profile = yaml.safe_load((ROOT / "profiles" / "studio.yaml").read_text(encoding="utf-8"))
    settings = {k: v for k, v in profile["backends"][modality].items() if k not in ("kind", "model")}
    if scale == "full":
        settings.update(FULL_OVERRIDES[modality])
    return {**settings, "device": str(device)}, profile["output"]


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    print(title)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print()


def dry_run(modalities: list[str], workdir: Path) -> None:
    counts: dict[str, dict[str, float]] = {}
    for modality in modalities:
        tiny = workdir / "tiny" / modality
        ensure(tiny, TINY_BUILDERS[modality])
        models = FULL_BUILDERS[modality](tiny, torch.device("meta"), None)
        if modality == "music":  # one model: count its parts (the decoder includes the LM heads)
            models = dict(models["model"].named_children())
        counts[modality] = {name: parameters([m]) / 1e9 for name, m in models.items()}
        total = sum(counts[modality].values())
        rows = [(name, f"{n:.3f} B params, {n * 2:.2f} GB in float16") for name, n in counts[modality].items()]
        print_table(f"{modality} (full size, meta device)", [*rows, ("total", f"{total:.3f} B, {total * 2:.2f} GB")])
    print(json.dumps({m: {k: round(v, 4) for k, v in c.items()} for m, c in counts.items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--shots", type=int, default=4, help="per modality, the first a warm-up (>= 2)")
    parser.add_argument("--only", default=",".join(MODALITIES), help="comma-separated: image,video,music")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "filmgen-gpu-bench")
    parser.add_argument("--dry-run", action="store_true", help="count full-size parameters on the meta device")
    args = parser.parse_args()
    modalities = [m for m in MODALITIES if m in args.only.split(",")]
    if not modalities or set(args.only.split(",")) - set(MODALITIES):
        parser.error(f"--only takes a comma-separated subset of {','.join(MODALITIES)}")
    if args.shots < 2:
        parser.error("--shots must be at least 2: the first shot is a warm-up, left out of the means")
    workdir = args.workdir.expanduser().resolve()

    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for logging in (diffusers_logging, transformers_logging):
        logging.set_verbosity_error()
        logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices inside the pipelines
    # Random weights can overflow float16 into NaN pixels or samples; that costs no time, only warnings.
    np.seterr(all="ignore")

    if args.dry_run:
        dry_run(modalities, workdir)
        return
    device = resolve_device(args.device)
    if args.scale == "full" and device.type != "cuda":
        sys.exit(
            "--scale full needs a CUDA GPU: on a CPU the SDXL-size UNet alone is 10 GB of float32 and a "
            "shot takes hours. Use --scale tiny here, or --dry-run to check the full-size configs."
        )
    device_name = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"
    results: dict[str, dict[str, Any]] = {}
    for modality in modalities:
        print(f"{modality}: building ({args.scale}) in {workdir}", file=sys.stderr, flush=True)
        path = workdir / "tiny" / modality
        build_s = ensure(path, TINY_BUILDERS[modality])
        if args.scale == "full":
            tiny, path = path, workdir / "full" / modality
            build_s = ensure(path, lambda p: FULL_BUILDERS[modality](tiny, device, p))
        settings, output = settings_for(args.scale, modality, device)
        print(f"{modality}: loading and {args.shots} shots", file=sys.stderr, flush=True)
        results[modality] = {"build_s": build_s, **bench(modality, path, settings, output, args.shots)}
        r = results[modality]
        vram = "n/a (cpu)" if r["vram_peak_gb"] is None else f"{r['vram_peak_gb']:.2f}"
        print_table(
            f"{modality} ({args.scale}, {device_name}): "
            + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "device"),
            [
                ("params", f"{r['params']:,}"),
                ("build_s", "reused" if build_s is None else f"{build_s:.2f}"),
                ("load_s", f"{r['load_s']:.3f}"),
                ("first_shot_s", f"{r['first_shot_s']:.3f} (warm-up, not in the means)"),
                ("shot_s", f"{r['shot_s']:.3f} (mean of {args.shots - 1})"),
                ("compute_s", f"{r['compute_s']:.3f} ({COMPUTE[modality]})"),
                ("other_s", f"{r['other_s']:.3f} (of which {ENCODERS[modality]} {r['encode_s']:.3f})"),
                ("overhead_ratio", f"{r['overhead_ratio']:.4f} (goal <= 0.03 on a GPU)"),
                ("non_model_ratio", f"{r['non_model_ratio']:.4f} (encoders counted as model work)"),
                ("load_per_shot_s", f"{r['load_per_shot_s']:.3f} (load and warm-up in every shot's process)"),
                ("load_once_speedup", f"{r['load_once_speedup']:.2f}x"),
                ("vram_peak_gb", vram),
            ],
        )
    rounded = {m: {k: v if v is None else round(v, 4) for k, v in r.items()} for m, r in results.items()}
    print(json.dumps({"scale": args.scale, "device": device_name, "shots": args.shots, **rounded}))


if __name__ == "__main__":
    main()
