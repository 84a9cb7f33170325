"""Prompt adherence with OpenCLIP models (LAION, DataComp, SigLIP, ...), the same cosine as ``clip``.

Optional extra (``pip install 'filmgen-dagster[openclip]'``): open_clip imports torchvision, which the
default install never has.
"""

from __future__ import annotations

from pathlib import Path

import open_clip
import torch
from PIL import Image

from filmgen_dagster.backends.torch_common import load_model, resolve_device, resolve_dtype


def model_name(model: str) -> str:
    """A local folder (open_clip_config.json + weights) becomes open_clip's ``local-dir:`` name; an
    architecture name (``ViT-B-32``) or ``hf-hub:org/repo`` is passed through."""
    return f"local-dir:{model}" if Path(model).is_dir() else model


class OpenClipScorer:
    backend_id = "open-clip"

    @staticmethod
    def model_id_for(model: str, pretrained: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return f"{model}:{pretrained}" if pretrained else model

    def __init__(
        self, model: str, pretrained: str | None = None, torch_dtype: str = "auto", device: str = "auto"
    ) -> None:
        """``pretrained`` is a weights tag (``laion2b_s34b_b79k``) or a local checkpoint file for an
        architecture name; folders and ``hf-hub:`` names carry their own weights."""
        self.model_id = self.model_id_for(model, pretrained)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(torch_dtype, self.device)
        name = model_name(model)

        def load() -> tuple:
            # open_clip reports unknown names and missing files as RuntimeError.
            try:
                built, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
            except RuntimeError as exc:
                raise ValueError(str(exc)) from None
            return built, preprocess, open_clip.get_tokenizer(name)

        self.model, self.preprocess, self.tokenizer = load_model("scorer", model, load)
        self.model = self.model.to(self.device, self.dtype).eval()

    def score(self, image: Image.Image, text: str) -> float:
        pixels = self.preprocess(image.convert("RGB")).unsqueeze(0).to(self.device, self.dtype)
        # The tokenizer cuts text at the model's context length rather than rejecting long prompts.
        tokens = self.tokenizer([text]).to(self.device)
        with torch.inference_mode():
            image_embeds = self.model.encode_image(pixels, normalize=True).float()
            text_embeds = self.model.encode_text(tokens, normalize=True).float()
        # Both are L2-normalised: the dot product is the cosine (clamped: rounding can step just past 1).
        return min(1.0, max(-1.0, float((image_embeds * text_embeds).sum())))
