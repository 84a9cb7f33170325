"""Tiny random diffusers pipelines saved with ``save_pretrained``.

Their output is noise, but loading them with ``from_pretrained(local_path)`` runs exactly the code a
real checkpoint goes through, on a CPU, in well under a second per call and offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import CLIPTokenizer


def _write_tokenizer(path: Path) -> tuple[CLIPTokenizer, int]:
    """Printable ASCII plus a few merges; anything else becomes the unknown token (fine for noise).

    CLIPTokenizer(vocab_file=...) silently yields a 2-token vocab in transformers 5, so the files
    are written to disk and loaded with from_pretrained.
    """
    from transformers import CLIPTokenizer

    symbols = [chr(c) for c in range(33, 127)]
    merges = ["t h", "th e</w>", "a n", "an d</w>"]
    specials = ["<|startoftext|>", "<|endoftext|>"]
    vocab = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges] + specials
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer.from_pretrained(path, model_max_length=77, pad_token="<|endoftext|>")
    return tokenizer, len(vocab)


# The tiny text-to-image UNet's channel widths; the tiny IP-Adapter must match them.
_SD_CHANNELS = (8, 16)
_SD_CROSS_ATTENTION_DIM = 16


def build_tiny_text2image(path: Path) -> None:
    """A StableDiffusionPipeline of ~0.12 M parameters (564 KB): 4 latent channels, VAE scale factor 2."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    path = Path(path)
    torch.manual_seed(0)
    tokenizer, vocab_size = _write_tokenizer(path / "tokenizer")
    unet = UNet2DConditionModel(
        sample_size=32,
        block_out_channels=_SD_CHANNELS,
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_SD_CROSS_ATTENTION_DIM,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size,
            hidden_size=_SD_CROSS_ATTENTION_DIM,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)


def build_tiny_ip_adapter(path: Path) -> None:
    """An IP-Adapter for ``build_tiny_text2image``, laid out like h94/IP-Adapter: ``models/`` holds
    ``ip-adapter.safetensors`` and ``image_encoder/``. Load with subfolder="models",
    weight_name="ip-adapter.safetensors"."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    models = Path(path) / "models"
    torch.manual_seed(0)
    embed_dim, tokens, hidden = 16, 4, _SD_CHANNELS[-1]
    CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=16,
            projection_dim=embed_dim,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    ).save_pretrained(models / "image_encoder")
    weights = {
        "image_proj.proj.weight": torch.randn(_SD_CROSS_ATTENTION_DIM * tokens, embed_dim) * 0.1,
        "image_proj.proj.bias": torch.zeros(_SD_CROSS_ATTENTION_DIM * tokens),
        "image_proj.norm.weight": torch.ones(_SD_CROSS_ATTENTION_DIM),
        "image_proj.norm.bias": torch.zeros(_SD_CROSS_ATTENTION_DIM),
    }
    # Keys 1, 3, 5, ... number the UNet's cross-attention layers (down, up, mid: 4 in the tiny UNet),
    # all at the coarse level's width.
    for key in range(1, 8, 2):
        for name in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key}.{name}.weight"] = torch.randn(hidden, _SD_CROSS_ATTENTION_DIM) * 0.1
    save_file(weights, models / "ip-adapter.safetensors")


def build_tiny_image2video(path: Path) -> None:
    """A StableVideoDiffusionPipeline of ~1 M parameters (4 MB): spatio-temporal UNet, temporal-decoder
    VAE, CLIP image encoder, and the image processor the pipeline needs to load offline."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    path = Path(path)
    torch.manual_seed(0)
    # The UNet's and VAE's output norms use 32 groups, so channel counts are multiples of 32.
    # in_channels is the noisy latent plus the conditioning image latent (4 + 4); the added time ids
    # are fps, motion bucket and noise strength, each embedded to addition_time_embed_dim.
    unet = UNetSpatioTemporalConditionModel(
        sample_size=32,
        in_channels=8,
        out_channels=4,
        block_out_channels=(32, 32),
        layers_per_block=1,
        # Attention only at the coarser level: full-resolution attention dominates CPU time.
        down_block_types=("DownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
        up_block_types=("CrossAttnUpBlockSpatioTemporal", "UpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=(2, 2),
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=3 * 8,
        num_frames=8,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        latent_channels=4,
        layers_per_block=1,
    )
    # The pipeline always resizes the conditioning image to 224 px for CLIP.
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            image_size=224,
            patch_size=32,
            hidden_size=32,
            projection_dim=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
        )
    )
    # The scheduler settings of the released SVD checkpoints (v-prediction, continuous Karras sigmas).
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
        interpolation_type="linear",
        sigma_max=700.0,
        sigma_min=0.002,
        timestep_spacing="leading",
        timestep_type="continuous",
        steps_offset=1,
        use_karras_sigmas=True,
    )
    pipe = StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(size=224, crop_size=224),
    )
    pipe.save_pretrained(path)
