"""Where the studio extra is not installed, a profile that needs it and `filmgen tiny-models` stop before
any work with one stderr line naming the extra and its install command: exit 2, no traceback, no film
registered, nothing written.

This venv has the extra, so the child process is made to lack it: a None in ``sys.modules`` is what
``import torch`` and ``importlib.util.find_spec("torch")`` see of a module that is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES
from filmgen_dagster.project_files import install_command

HOSTILE = Path(__file__).resolve().parent / "hostile"
STORY = EXAMPLES / "paper-boat.txt"
# What the studio extra installs that nothing else does (huggingface_hub comes with diffusers and transformers).
STUDIO_ONLY = ("torch", "diffusers", "transformers", "accelerate", "huggingface_hub", "tokenizers", "safetensors")
WITHOUT_STUDIO = f"import sys\nsys.modules.update(dict.fromkeys({STUDIO_ONLY!r}))\n"
FILMGEN = "from filmgen_dagster.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _filmgen_without_studio(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "FILMGEN_MEDIA_ROOT": str(tmp_path / "media"),
        "HF_HUB_OFFLINE": "1",
    }
    # Run in tmp_path, so that a render getting as far as its default --out writes nowhere else.
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_STUDIO + FILMGEN, *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _profile(tmp_path: Path, extra_yaml: str = "", **backends: str) -> Path:
    """The animatic profile's backends, some replaced, in a file of tmp_path; ``extra_yaml`` is appended."""
    animatic = {"planner": "rules", "image": "storyboard", "video": "camera-moves", "speech": "espeak-ng"}
    chosen = {**animatic, "music": "synth-score", **backends}
    path = tmp_path / "mine.yaml"
    body = "".join(f"  {modality}: {{kind: {spec}}}\n" for modality, spec in chosen.items())
    path.write_text(f"name: mine\nbackends:\n{body}{extra_yaml}", encoding="utf-8")
    return path


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    ("profile", "backend"),
    [
        ("studio", "planner backend transformers-chat"),
        # Not "is not in the Hugging Face cache": without the extra there is no hub client to look.
        (str(HOSTILE / "profiles" / "uncached-hub-model.yaml"), "image backend diffusers-text2image"),
    ],
)
def test_a_profile_needing_the_studio_extra_is_refused_before_anything_is_registered(tmp_path, profile, backend):
    line = _one_line(_filmgen_without_studio(tmp_path, "render", str(STORY), "--profile", profile))
    assert line == f"filmgen: profile {profile}: {backend} needs the studio extra: {install_command('studio')}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no instance, no media, no out/


def test_a_quality_fallback_needing_the_studio_extra_is_refused_too(tmp_path):
    fallback = "quality:\n  fallback:\n    video: {kind: diffusers-image2video, model: org/video}\n"
    profile = _profile(tmp_path, fallback)
    line = _one_line(_filmgen_without_studio(tmp_path, "render", str(STORY), "--profile", str(profile)))
    assert f"video backend diffusers-image2video needs the studio extra: {install_command('studio')}" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


def test_dagster_steps_loading_a_profile_say_which_extra_it_needs(tmp_path):
    """A film registered from the UI or a sensor loads its profile in a step: that step fails with the
    same line, not a ModuleNotFoundError."""
    code = WITHOUT_STUDIO + (
        "from filmgen_dagster.errors import ProfileError\n"
        "from filmgen_dagster.resources.studio import FilmStudio\n"
        "try:\n    FilmStudio(default_profile='studio').backends()\n"
        "except ProfileError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"profile studio: planner backend transformers-chat needs the studio extra: {install_command('studio')}"
    )


def test_tiny_models_without_the_studio_extra_writes_nothing(tmp_path):
    line = _one_line(_filmgen_without_studio(tmp_path, "tiny-models", str(tmp_path / "tiny")))
    assert line == f"filmgen: tiny-models needs the studio extra: {install_command('studio')}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_extra_installed_without_its_torch_companion_names_both(tmp_path):
    """coqui-tts installs on any torch but imports only beside a torchaudio built for it."""
    fake = tmp_path / "site" / "TTS"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'torchaudio'\")\n", encoding="utf-8")
    profile = _profile(tmp_path, speech="xtts, model: coqui/XTTS-v2, speakers: {}")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "DAGSTER_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "render", str(STORY), "--profile", str(profile)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert _one_line(result) == (
        f"filmgen: profile {profile}: speech backend xtts needs the xtts extra: {install_command('xtts')}, "
        "and a torchaudio built for your torch (here: No module named 'torchaudio')"
    )
