"""Profiles: YAML files that choose one backend per modality and the output format.

Backends are imported lazily by kind, so the animatic profile never imports torch.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from filmgen_dagster.errors import ProfileError
from filmgen_dagster.project_files import install_command, project_file, project_files

DEFAULT_PROFILE = "animatic"

# kind -> "module:Class" per modality; constructor options come from the profile.
BACKEND_KINDS: dict[str, dict[str, str]] = {
    "planner": {
        "rules": "filmgen_dagster.backends.rules_planner:RuleBasedPlanner",
        "transformers-chat": "filmgen_dagster.backends.llm_planner:LlmPlanner",
    },
    "image": {
        "storyboard": "filmgen_dagster.backends.storyboard:StoryboardImage",
        "diffusers-text2image": "filmgen_dagster.backends.diffusers_image:DiffusersImage",
    },
    "video": {
        "camera-moves": "filmgen_dagster.backends.camera:CameraMoves",
        "diffusers-image2video": "filmgen_dagster.backends.diffusers_video:DiffusersVideo",
    },
    "speech": {
        "espeak-ng": "filmgen_dagster.backends.espeak:EspeakSpeech",
        "mms-tts": "filmgen_dagster.backends.mms_tts:MmsSpeech",
        "xtts": "filmgen_dagster.backends.xtts:XttsSpeech",
    },
    "music": {
        "synth-score": "filmgen_dagster.backends.synth_music:SynthMusic",
        "musicgen": "filmgen_dagster.backends.musicgen:MusicGen",
    },
    "translator": {"transformers-seq2seq": "filmgen_dagster.backends.seq2seq_translator:Seq2SeqTranslator"},
    "scorer": {
        "clip": "filmgen_dagster.backends.clip_scorer:ClipScorer",
        "open-clip": "filmgen_dagster.backends.open_clip_scorer:OpenClipScorer",
    },
}
# Backends without model weights: cheap enough to build before any work, so bad options fail early.
NO_MODEL_KINDS = frozenset({"rules", "storyboard", "camera-moves", "espeak-ng", "synth-score"})
# Kinds whose libraries come from an optional extra of pyproject: kind -> extra. Every model backend does.
EXTRAS = {
    **{kind: "studio" for kinds in BACKEND_KINDS.values() for kind in kinds if kind not in NO_MODEL_KINDS},
    "xtts": "xtts",
    "open-clip": "openclip",
}
# The top-level modules each extra installs: all must be there before any work starts.
STUDIO_MODULES = ("torch", "diffusers", "transformers", "accelerate")
EXTRA_MODULES = {"studio": STUDIO_MODULES, "xtts": (*STUDIO_MODULES, "TTS"), "openclip": (*STUDIO_MODULES, "open_clip")}
# Kinds whose extra installs but imports only beside a torch companion, which pip cannot choose for the
# user's torch build: their module must import before any work starts.
COMPANIONS = {"xtts": "torchaudio", "open-clip": "torchvision"}
# Options that name models or their files: local paths among them must exist before any work starts.
MODEL_OPTIONS = ("model", "models", "vae", "pretrained", "speakers")
# Options _construct gives the backend itself: not the profile's to set.
SUPPLIED_OPTIONS = {"storyboard": frozenset({"styles"})}
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
    title_s: float = Field(3.0, ge=0, le=10, description="seconds the film's title shows over its first shot; 0: none")


class QualitySpec(BaseModel):
    """Thresholds of the quality checks, and how hard to try before a shot is declared failed."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(3, ge=1, le=10, description="renders per shot, each with a new seed")
    clip_score_min: float = Field(0.2, description="keyframe–prompt CLIP similarity (with a scorer)")
    black_luma_max: float = Field(16.0, description="a sampled frame this dark (0–255) outside fades is black")
    frozen_diff_min: float = Field(
        0.3, description="smallest mean change between frames 0.25 s apart, in the twelfth of the frame that moves most"
    )
    flash_diff_max: float = Field(40.0, description="largest mean change between frames 0.25 s apart")
    narration_over_music_db: tuple[float, float] = Field(
        (6.0, 40.0), description="narration RMS minus music RMS while someone speaks"
    )
    fallback: dict[str, BackendSpec] = Field(
        default_factory=dict, description="backend per modality for the last attempt, e.g. video: camera-moves"
    )


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    output: OutputSpec = OutputSpec()
    backends: dict[str, BackendSpec | None]
    quality: QualitySpec = QualitySpec()
    source: str = ""


class Backends:
    """The profile's backends, each built on first use and then kept for the life of the process.

    A worker that renders many shots loads each model once; a process that only plans never loads
    the video model.
    """

    def __init__(self, profile: Profile, ref: str, device: str | None = None) -> None:
        self.profile, self._ref, self.device = profile, ref, device
        self._built: dict[str, Any] = {}

    def _spec(self, modality: str, fallback: bool) -> BackendSpec | None:
        return (fallback and self.profile.quality.fallback.get(modality)) or self.profile.backends.get(modality)

    def load(self, modality: str, fallback: bool = False) -> tuple[Any | None, float]:
        """(backend or None when the profile has none, seconds spent loading it just now).

        ``fallback`` asks for the profile's quality fallback for the modality, or its usual backend where
        it names none.
        """
        key = f"{modality}:fallback" if fallback and modality in self.profile.quality.fallback else modality
        if key in self._built:
            return self._built[key], 0.0
        started = time.perf_counter()
        spec = self._spec(modality, fallback)
        self._built[key] = _construct(modality, spec, self._ref, self.device) if spec else None
        return self._built[key], time.perf_counter() - started

    def identity(self, modality: str, fallback: bool = False) -> dict[str, Any] | None:
        """What memo keys hold of the backend ``load`` gives for these arguments, or None when the profile has
        none: its id, model and profile options (all but ``device``), so a profile edited from 4 steps to 8,
        or to another VAE or voice speed, does not find what the old settings made; and each model's snapshot,
        so new weights under the same name do not either.

        Known without loading a model, so work found in the memo never loads one. Read again after a load:
        an online load may resolve a newer snapshot than the cache held."""
        spec = self._spec(modality, fallback)
        if spec is None:
            return None
        if spec.kind in NO_MODEL_KINDS:  # cheap to build, and espeak-ng knows its version only once found
            backend = self.load(modality, fallback)[0]
            backend_id, model = backend.backend_id, backend.model_id
        else:
            cls = backend_class(modality, spec.kind)
            backend_id, model = cls.backend_id, cls.model_id_for(**spec.options)
        snapshots = model_snapshots(spec)
        return {
            "backend": backend_id,
            "model": model,
            "settings": {name: value for name, value in spec.options.items() if name != "device"},
            # Only where there are models, so the memo of model-free profiles keeps its keys.
            **({"snapshots": snapshots} if snapshots else {}),
        }

    def backend_class(self, modality: str, fallback: bool = False) -> type | None:
        """The class ``load`` would build, imported but not built (for its class attributes)."""
        spec = self._spec(modality, fallback)
        return backend_class(modality, spec.kind) if spec else None

    def __getattr__(self, modality: str) -> Any:
        if modality not in BACKEND_KINDS:
            raise AttributeError(modality)
        return self.load(modality)[0]


def backend_class(modality: str, kind: str) -> type:
    module_name, class_name = BACKEND_KINDS[modality][kind].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def model_snapshots(spec: BackendSpec) -> dict[str, str]:
    """Which version of each model or model file the spec names: for a hub id, the commit of its snapshot in
    the Hugging Face cache (the one an offline load uses, and the one an online load last resolved); for a
    local path, a fingerprint of its files' names, sizes and modification times (no hashing of gigabytes)."""
    found: dict[str, str] = {}
    for option in MODEL_OPTIONS:
        value = spec.options.get(option)
        for name in value.values() if isinstance(value, dict) else [value]:
            if not isinstance(name, str):
                continue
            # load_profile made local paths absolute; anything else may be a hub id (or a weights tag: not cached).
            revision = _revision_of(spec.options, option)
            version = _fingerprint(Path(name)) if Path(name).is_absolute() else _hub_commit(name, revision)
            if version:
                found[name] = version
    return found


def _revision_of(options: dict[str, Any], option: str) -> str | None:
    """The revision a model option is pinned to: `revision` pins the checkpoint (`model`, `models`), not a
    replacement VAE."""
    return options.get("revision") if option in ("model", "models") else None


def _fingerprint(path: Path) -> str | None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
    if not files:
        return None
    stats = [(p.relative_to(path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return "files:" + hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name
    except ImportError:
        return None  # hub models are loaded only by backends of an extra, which load_profile has found installed
    # A branch or tag has a ref naming its commit; a pinned commit has none, and is in the model id already.
    ref = Path(constants.HF_HUB_CACHE, repo_folder_name(repo_id=repo_id, repo_type="model"), "refs")
    ref /= revision or "main"
    return ref.read_text(encoding="utf-8").strip() if ref.is_file() else None


def resolve_profile_path(ref: str) -> Path:
    """A profile name (NAME.yaml in $FILMGEN_PROFILES_DIR, else in profiles/) or a path to a YAML file."""
    path = Path(ref).expanduser()
    if path.suffix in (".yaml", ".yml") or "/" in ref:
        if not path.is_file():
            raise ProfileError(f"profile {ref}: file not found; give an existing YAML file or a profile name")
        return path.resolve()
    named = project_file("profiles", f"{ref}.yaml")
    if not named.is_file():
        known = ", ".join(sorted(p.stem for p in project_files("profiles", "*.yaml")))
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
        if spec is None:
            continue
        if spec.kind not in BACKEND_KINDS[modality]:
            known = ", ".join(BACKEND_KINDS[modality])
            raise ProfileError(f"profile {ref}: unknown {modality} backend {spec.kind!r}; use {known}")
        # First what to install: without the backend's library its models are beside the point.
        _require_extra(modality, spec.kind, ref)
        _resolve_files(spec, path.parent, ref, modality)
    for modality, spec in profile.quality.fallback.items():
        if modality not in BACKEND_KINDS or spec.kind not in BACKEND_KINDS[modality]:
            raise ProfileError(f"profile {ref}: quality.fallback.{modality} names unknown backend {spec.kind!r}")
        # Only re-rolled work has a last attempt: clips always, keyframes when a scorer judges them.
        if modality not in ("image", "video") or (modality == "image" and not profile.backends.get("scorer")):
            why = "add a scorer" if modality == "image" else "only image and video are rendered again"
            raise ProfileError(f"profile {ref}: quality.fallback.{modality} would never be used; {why}")
        _require_extra(modality, spec.kind, ref)
        _resolve_files(spec, path.parent, ref, f"quality.fallback.{modality}")
    return profile


def _resolve_files(spec: BackendSpec, base: Path, ref: str, label: str) -> None:
    """The spec's models, IP-Adapter and reference images: local ones resolved against the profile's
    folder ``base`` and checked to exist, hub ids checked against the cache when the hub is offline."""
    options = spec.options
    for option in MODEL_OPTIONS:
        if option in options:
            hub_ids = option in ("model", "models", "vae")  # `pretrained` may be a tag, `speakers` are files
            revision = _revision_of(options, option)
            setattr(spec, option, _resolve_models(options[option], base, ref, label, hub_ids, revision))
    adapter = options.get("ip_adapter")
    if isinstance(adapter, dict) and "repo" in adapter:
        spec.ip_adapter = {**adapter, "repo": _resolve_models(adapter["repo"], base, ref, label, True, None)}
    if "character_images" not in options:
        return
    if adapter is None:
        # The pipeline sees reference images only through an IP-Adapter: without one they would be ignored.
        raise ProfileError(
            f"profile {ref}: {label} character_images need an ip_adapter (repo, weight_name) to take effect; "
            "add ip_adapter or remove character_images"
        )
    images = options["character_images"]
    if not isinstance(images, dict):
        raise ProfileError(f"profile {ref}: {label} character_images must map character names to image files")
    spec.character_images = {
        name: _profile_file(file, base, ref, f"{label} character_images.{name}") for name, file in images.items()
    }


def _profile_file(value: Any, base: Path, ref: str, label: str) -> str:
    """A file the profile names: absolute, ~, or relative to the profile's folder ``base``."""
    file = (base / Path(str(value)).expanduser()).resolve()
    if not file.is_file():
        raise ProfileError(f"profile {ref}: {label} file {file} does not exist; give a path relative to the profile")
    return str(file)


def extra_installed(extra: str) -> bool:
    """Whether every library of ``extra`` is installed: found, not imported (importing torch takes seconds)."""
    return all(importlib.util.find_spec(module) is not None for module in EXTRA_MODULES[extra])


def _require_extra(modality: str, kind: str, ref: str) -> None:
    """A backend from an optional extra needs the extra's libraries installed, and one with a torch
    companion must import here too (coqui-tts installs but fails to import without a working torchaudio)."""
    extra = EXTRAS.get(kind)
    if extra is None:
        return
    needs = f"profile {ref}: {modality} backend {kind} needs the {extra} extra: {install_command(extra)}"
    if not extra_installed(extra):
        raise ProfileError(needs)
    if kind not in COMPANIONS:
        return
    try:
        importlib.import_module(BACKEND_KINDS[modality][kind].split(":")[0])
    except (ImportError, OSError) as exc:
        reason = " ".join(str(exc).split()).split(". ")[0][:160]
        raise ProfileError(f"{needs}, and a {COMPANIONS[kind]} built for your torch (here: {reason})") from None


def _resolve_models(value: Any, base: Path, ref: str, modality: str, hub_ids: bool, revision: str | None) -> Any:
    """Local model paths (absolute, ~, or ./ ../ relative to the profile) resolved and checked;
    anything else is a name the backend resolves: hub ids (at ``revision``) are checked now when the hub
    is offline, else when the model loads."""
    if isinstance(value, dict):
        return {key: _resolve_models(v, base, ref, modality, hub_ids, revision) for key, v in value.items()}
    text = str(value)
    if not text.startswith(("/", "./", "../", "~")):
        if hub_ids:
            _check_cached_when_offline(text, revision, ref, modality)
        return text
    local = (base / Path(text).expanduser()).resolve()
    if not local.exists():
        raise ProfileError(
            f"profile {ref}: {modality} path {local} does not exist; fix the path or build it "
            "(e.g. `filmgen tiny-models DIR` for test models)"
        )
    return str(local)


def _check_cached_when_offline(model: str, revision: str | None, ref: str, modality: str) -> None:
    try:
        from huggingface_hub import constants
    except ImportError:
        return  # hub models are loaded only by backends of an extra, which load_profile has found installed
    if not constants.HF_HUB_OFFLINE:
        return
    repo = Path(constants.HF_HUB_CACHE) / f"models--{model.replace('/', '--')}"
    if not repo.is_dir():
        raise ProfileError(
            f"profile {ref}: {modality} model {model} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
            "download it first or give a local folder"
        )
    # The cache keeps a branch or tag as refs/NAME (naming its commit), a commit as snapshots/HASH.
    if revision and not ((repo / "refs" / str(revision)).is_file() or (repo / "snapshots" / str(revision)).is_dir()):
        raise ProfileError(
            f"profile {ref}: {modality} model {model} revision {revision} is not in the Hugging Face cache "
            f"({repo}) and HF_HUB_OFFLINE is set; download that revision first or change `revision`"
        )


def _construct(modality: str, spec: BackendSpec, ref: str, device: str | None) -> Any:
    cls = backend_class(modality, spec.kind)
    options = spec.options
    # A leased GPU replaces "pick one"; a device the profile names (cpu, cuda:1) is kept.
    if device and options.get("device", "auto") in ("auto", "cuda") and "device" in inspect.signature(cls).parameters:
        options["device"] = device
    if spec.kind == "storyboard":
        from filmgen_dagster.prompts import load_styles

        options["styles"] = load_styles()
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"profile {ref}: bad options for {modality} backend {spec.kind!r} ({exc})") from None


@cache
def build_backends(ref: str, device: str | None = None) -> Backends:
    """One Backends per profile and device per process, so models stay loaded across shots.

    ``device`` is the GPU leased for the step (see gpus.gpu_lease), or None to let each backend choose.
    """
    return Backends(load_profile(ref), ref, device)


def check_profile(ref: str) -> Profile:
    """Load the profile and check each backend it names, quality fallbacks included, before any work: option
    names against the backend's constructor, and a model backend's torch_dtype, device and pipeline without
    loading weights (that happens in the steps); backends that need no model are built, so that a bad value
    of theirs is found too."""
    backends = build_backends(ref)
    profile = backends.profile
    chosen = [(modality, spec, False) for modality, spec in profile.backends.items() if spec is not None]
    for modality, spec, fallback in chosen + [(m, spec, True) for m, spec in profile.quality.fallback.items()]:
        label = f"quality.fallback.{modality}" if fallback else modality
        _check_options(ref, label, backend_class(modality, spec.kind), spec)
        if spec.kind in NO_MODEL_KINDS:
            backends.load(modality, fallback)
    return profile


def _check_options(ref: str, label: str, cls: type, spec: BackendSpec) -> None:
    parameters = {
        name: parameter
        for name, parameter in inspect.signature(cls).parameters.items()
        if name not in SUPPLIED_OPTIONS.get(spec.kind, ())
    }
    for name in spec.options:
        if name not in parameters:
            close = difflib.get_close_matches(name, parameters, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            choices = f"use one of {', '.join(parameters)}" if parameters else "it takes none"
            raise ProfileError(f"profile {ref}: {label} backend {spec.kind} has no option {name!r}{hint}; {choices}")
    for name, parameter in parameters.items():
        if parameter.default is parameter.empty and name not in spec.options:
            raise ProfileError(f"profile {ref}: {label} backend {spec.kind} needs option {name!r}; add it")
    if spec.kind in NO_MODEL_KINDS:
        return  # built next, which checks their values
    # Model backends' values that their constructors would refuse only after loading or downloading weights.
    from filmgen_dagster.backends.torch_common import DEVICE, DEVICES, DTYPES, device_problem

    dtype = spec.options.get("torch_dtype", "auto")
    if dtype != "auto" and dtype not in DTYPES:
        raise ProfileError(f"profile {ref}: {label} torch_dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    device = str(spec.options.get("device", "auto"))
    if not DEVICE.fullmatch(device):
        raise ProfileError(f"profile {ref}: {label} device {device!r} is not a device; use {DEVICES}")
    problem = device != "auto" and _steps_run_here() and device_problem(device)
    if problem:
        raise ProfileError(f"profile {ref}: {label} device {device!r} {problem}")
    if "pipeline" in spec.options:
        from filmgen_dagster.backends.diffusers_common import pipeline_problem

        problem = pipeline_problem(str(spec.options["pipeline"]))
        if problem:
            raise ProfileError(f"profile {ref}: {label} pipeline {spec.options['pipeline']!r} {problem}")


def _steps_run_here() -> bool:
    """Whether this machine runs the steps, and so must have the devices the profile names: not where a
    Celery or Kubernetes executor sends them to GPU workers, while a sensor checks on a daemon without one."""
    from filmgen_dagster.executors import EXECUTOR_ENV

    return (os.environ.get(EXECUTOR_ENV) or "in_process") == "in_process"
