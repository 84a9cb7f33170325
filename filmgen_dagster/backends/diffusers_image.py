"""ImageBackend running any diffusers text-to-image pipeline (SD 1.5/XL, SD3, Flux, ...).

The pipeline is loaded once per backend instance; each keyframe is one seeded call.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from filmgen_dagster.backends.diffusers_common import call_parameters, generation_size, load_pipeline, to_image
from filmgen_dagster.backends.torch_common import load_model, model_id, seeded_generator
from filmgen_dagster.domain import ShotPrompt
from filmgen_dagster.errors import ProfileError


class DiffusersImage:
    backend_id = "diffusers-text2image"

    @staticmethod
    def model_id_for(model: str, revision: str | None = None, **_: object) -> str:
        """The ``model_id`` of a backend built with these options, known without loading it (for memo keys)."""
        return model_id(model, revision)

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        pipeline: str = "auto",
        torch_dtype: str = "auto",
        device: str = "auto",
        num_inference_steps: int = 30,
        guidance_scale: float = 5.0,
        width: int | None = None,
        height: int | None = None,
        enable_model_cpu_offload: bool = False,
        vae_tiling: bool = False,
        vae_slicing: bool = False,
        attention_slicing: bool = False,
        vae: str | None = None,
        ip_adapter: dict[str, Any] | None = None,
        character_images: dict[str, str] | None = None,
    ) -> None:
        self.model_id = self.model_id_for(model, revision)
        self.num_inference_steps = num_inference_steps
        self.guidance_scale = guidance_scale
        self.size = (width, height)
        # References are read first so a wrong path fails before minutes of model loading.
        self.references = {
            name: _reference_image(name, path) for name, path in (character_images or {}).items()
        }
        self.ip_scale = float(ip_adapter.get("scale", 0.6)) if ip_adapter else None
        self.pipe = load_pipeline(
            "image",
            model=model,
            revision=revision,
            pipeline=pipeline,
            auto="AutoPipelineForText2Image",
            torch_dtype=torch_dtype,
            device=device,
            enable_model_cpu_offload=enable_model_cpu_offload,
            vae_tiling=vae_tiling,
            vae_slicing=vae_slicing,
            attention_slicing=attention_slicing,
            vae=vae,
            prepare=partial(_load_ip_adapter, ip_adapter) if ip_adapter else None,
        )
        self.accepts = call_parameters(self.pipe)

    def render_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> Image.Image:
        gen_w, gen_h = generation_size(self.pipe, self.size[0] or width, self.size[1] or height)
        kwargs: dict[str, Any] = {
            "prompt": prompt.prompt,
            "width": gen_w,
            "height": gen_h,
            "num_inference_steps": self.num_inference_steps,
            "generator": seeded_generator(prompt.seed),
            "output_type": "pt",
        }
        optional = {"negative_prompt": prompt.negative_prompt, "guidance_scale": self.guidance_scale}
        kwargs.update({k: v for k, v in optional.items() if k in self.accepts})
        if self.ip_scale is not None:
            kwargs["ip_adapter_image"] = self._ip_adapter_image(prompt)
        return to_image(self.pipe(**kwargs).images, (width, height))

    def _ip_adapter_image(self, prompt: ShotPrompt) -> Image.Image:
        reference = next(
            (self.references[c.name] for c in prompt.characters if c.name in self.references), None
        )
        # A loaded IP-Adapter demands an image on every call; a shot without a reference gets a
        # neutral one at scale 0, which leaves the text-only result untouched.
        self.pipe.set_ip_adapter_scale(self.ip_scale if reference else 0.0)
        return reference or Image.new("RGB", (224, 224), (127, 127, 127))


def _load_ip_adapter(config: dict[str, Any], pipe: Any) -> None:
    """``config``: repo, weight_name, optional subfolder (default "models") and image_encoder_folder."""
    if not hasattr(pipe, "load_ip_adapter") or "ip_adapter_image" not in call_parameters(pipe):
        raise ProfileError(f"image pipeline {type(pipe).__name__} does not support IP-Adapter")
    options = {k: v for k, v in config.items() if k != "scale"}
    try:
        repo = options.pop("repo")
        subfolder = options.pop("subfolder", "models")
        weight_name = options.pop("weight_name")
    except KeyError as exc:
        raise ProfileError(f"ip_adapter needs a {exc.args[0]!r} entry") from None
    load_model(
        "IP-Adapter",
        repo,
        lambda: pipe.load_ip_adapter(repo, subfolder=subfolder, weight_name=weight_name, **options),
    )


def _reference_image(name: str, path: str) -> Image.Image:
    try:
        with Image.open(Path(path).expanduser()) as image:
            return image.convert("RGB")
    except OSError as exc:
        raise ProfileError(f"reference image for character {name!r} cannot be read: {path} ({exc})") from None
