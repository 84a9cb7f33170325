"""Profiles: YAML files that choose one backend per modality and the output format.

Backends are imported lazily by kind, so the animatic profile never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from filmgen_dagster.errors import ProfileError
from filmgen_dagster.project_files import project_dir

DEFAULT_PROFILE = "animatic"

# kind -> "module:Class" per modality; constructor options come from the profile.
BACKEND_KINDS: dict[str, dict[str, str]] = {
    "planner": {"rules": "filmgen_dagster.backends.rules_planner:RuleBasedPlanner"},
    "image": {"storyboard": "filmgen_dagster.backends.storyboard:StoryboardImage"},
    "video": {"camera-moves": "filmgen_dagster.backends.camera:CameraMoves"},
    "speech": {"espeak-ng": "filmgen_dagster.backends.espeak:EspeakSpeech"},
    "music": {"synth-score": "filmgen_dagster.backends.synth_music:SynthMusic"},
    "translator": {},
    "scorer": {},
}
REQUIRED = ("planner", "image", "video", "speech", "music")


class BackendSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(1280, ge=64, le=7680, multiple_of=2)
    height: int = Field(720, ge=64, le=4320, multiple_of=2)
    fps: int = Field(24, ge=1, le=120)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    output: OutputSpec = OutputSpec()
    backends: dict[str, BackendSpec | None]
    source: str = ""


@dataclass(frozen=True)
class Backends:
    planner: Any
    image: Any
    video: Any
    speech: Any
    music: Any
    translator: Any | None
    scorer: Any | None

    def describe(self) -> dict[str, str]:
        return {
            modality: f"{backend.backend_id} ({backend.model_id})"
            for modality, backend in vars(self).items()
            if backend is not None
        }


def resolve_profile_path(ref: str) -> Path:
    """A profile name (profiles/NAME.yaml) or a path to a YAML file."""
    path = Path(ref).expanduser()
    if path.suffix in (".yaml", ".yml") or "/" in ref:
        if not path.is_file():
            raise ProfileError(f"profile {ref}: file not found; give an existing YAML file or a profile name")
        return path.resolve()
    named = project_dir("profiles") / f"{ref}.yaml"
    if not named.is_file():
        known = ", ".join(sorted(p.stem for p in project_dir("profiles").glob("*.yaml")))
        raise ProfileError(f"profile {ref}: no such profile; use one of {known} or a path to a YAML file")
    return named


def load_profile(ref: str) -> Profile:
    path = resolve_profile_path(ref)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ProfileError(f"profile {ref}: not valid YAML; fix the syntax of {path}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"profile {ref}: must be a YAML mapping with 'name' and 'backends'")
    try:
        profile = Profile.model_validate({**raw, "source": str(path)})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"profile {ref}: field {field!r} {first['msg'].lower()}; fix {path}") from None
    for modality in profile.backends:
        if modality not in BACKEND_KINDS:
            raise ProfileError(
                f"profile {ref}: unknown modality {modality!r}; use {', '.join(BACKEND_KINDS)}"
            )
    for modality in REQUIRED:
        if profile.backends.get(modality) is None:
            raise ProfileError(f"profile {ref}: backends.{modality} is missing; name a backend kind for it")
    for modality, spec in profile.backends.items():
        if spec is not None and spec.kind not in BACKEND_KINDS[modality]:
            known = ", ".join(BACKEND_KINDS[modality]) or "none available yet"
            raise ProfileError(f"profile {ref}: unknown {modality} backend {spec.kind!r}; use {known}")
    return profile


def _construct(modality: str, spec: BackendSpec, ref: str) -> Any:
    module_name, class_name = BACKEND_KINDS[modality][spec.kind].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    options = spec.options
    if spec.kind == "storyboard":
        from filmgen_dagster.prompts import load_styles

        options["styles"] = load_styles()
    try:
        return cls(**options)
    except TypeError as exc:
        raise ProfileError(f"profile {ref}: bad options for {modality} backend {spec.kind!r} ({exc})") from None


@cache
def build_backends(ref: str) -> Backends:
    """Backends for a profile, built once per process: heavy models stay loaded across shots."""
    profile = load_profile(ref)
    built = {
        modality: _construct(modality, spec, ref) if (spec := profile.backends.get(modality)) else None
        for modality in BACKEND_KINDS
    }
    return Backends(**built)
