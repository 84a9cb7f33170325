"""Prompt adherence: CLIP's cosine similarity between a rendered keyframe and the text it was rendered from."""

from __future__ import annotations

import torch
from PIL import Image
from transformers import AutoProcessor, CLIPModel

from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype


class ClipScorer:
    backend_id = "clip"

    @staticmethod
    def model_id_for(model: str, revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return model_id(model, revision)

    def __init__(
        self, model: str, revision: str | None = None, torch_dtype: str = "auto", device: str = "auto"
    ) -> None:
        self.model_id = self.model_id_for(model, revision)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(torch_dtype, self.device)
        self.processor = load_model("scorer", model, lambda: AutoProcessor.from_pretrained(model, revision=revision))
        self.model = load_model(
            "scorer", model, lambda: CLIPModel.from_pretrained(model, revision=revision, dtype=self.dtype)
        ).to(self.device).eval()
        # CLIP's text tower has a fixed context (77 tokens); longer prompts are cut rather than rejected.
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    def score(self, image: Image.Image, text: str) -> float:
        inputs = self.processor(
            text=[text],
            images=[image.convert("RGB")],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        ).to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        with torch.inference_mode():
            out = self.model(**inputs)
        # The forward pass returns both embeddings projected and L2-normalised: their dot product is the cosine
        # (clamped: rounding can step just past 1).
        cosine = float((out.image_embeds.float() * out.text_embeds.float()).sum())
        return min(1.0, max(-1.0, cosine))
