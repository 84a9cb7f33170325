"""Profile mistakes that model backends used to find only while loading (after the film was registered and
other work done, then again in every shot) are found before any work: by `check_profile`, without loading
weights, as one line naming the profile and the fix; `filmgen render` exits 2 and registers and writes
nothing. What only a load can find (an unreachable hub) is one line too, said once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import constants
from PIL import Image

from conftest import EXAMPLES
from filmgen_dagster.backends.diffusers_image import DiffusersImage
from filmgen_dagster.errors import ModelLoadError, ProfileError
from filmgen_dagster.profiles import build_backends, check_profile, load_profile, resolve_profile_path
from filmgen_dagster.tiny import write_tiny_models
from filmgen_dagster.tiny.diffusion import build_tiny_ip_adapter

STORY = EXAMPLES / "paper-boat.txt"
RED = (230, 30, 30)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The profile `filmgen tiny-models` writes, its models beside it, and an IP-Adapter in ip/."""
    profile = write_tiny_models(tmp_path_factory.mktemp("tiny"))
    build_tiny_ip_adapter(profile.parent / "ip")
    return profile


def variant(tiny: Path, name: str, edit: Callable[[dict], None]) -> Path:
    """The tiny profile changed by ``edit``, written beside it (its model paths are relative to it)."""
    profile = yaml.safe_load(tiny.read_text(encoding="utf-8"))
    edit(profile)
    path = tiny.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def render(tmp_path: Path, profile: Path, **env: str) -> subprocess.CompletedProcess:
    """`filmgen render` as a user runs it, with its instance, media and output in tmp_path."""
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "FILMGEN_MEDIA_ROOT": str(tmp_path / "media"), **env}
    return subprocess.run(
        [sys.executable, "-m", "filmgen_dagster.cli", "render", str(STORY), "--profile", str(profile),
         "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def refused(tmp_path: Path, profile: Path, **env: str) -> str:
    """The one stderr line of a render refused before any work (exit 2, nothing registered or written)."""
    result = render(tmp_path, profile, **env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and result.stdout == "", result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a refused render registered or wrote something"
    assert lines[0].startswith(f"filmgen: profile {profile}: ")
    return lines[0].removeprefix(f"filmgen: profile {profile}: ")


def image(**options: object) -> Callable[[dict], None]:
    return lambda profile: profile["backends"]["image"].update(options)


# name -> (edit of the tiny profile, the refusal after "profile PATH: ")
MISTAKES = {
    "misspelt-option": (
        image(num_inference_step=4),
        "image backend diffusers-text2image has no option 'num_inference_step' (did you mean 'num_inference_steps'?);"
        " use one of model, revision, pipeline, torch_dtype, device, num_inference_steps,",
    ),
    "unknown-dtype": (image(torch_dtype="float17"), "image torch_dtype 'float17' is not one of auto, float32, float16"),
    "unknown-device": (image(device="gpu"), "image device 'gpu' is not a device; use auto, cpu, cuda, cuda:N or mps"),
    "misspelt-pipeline": (
        lambda profile: profile["backends"]["video"].update(pipeline="StableVideoDiffusionPipline"),
        "video pipeline 'StableVideoDiffusionPipline' is not a diffusers pipeline class (diffusers ",
    ),
    "fallback-option": (
        lambda profile: profile["quality"].update(fallback={"video": {"kind": "camera-moves", "speed": 3}}),
        "quality.fallback.video backend camera-moves has no option 'speed'; it takes none",
    ),
    "images-without-adapter": (
        image(character_images={"Mira": "mira.png"}),
        "image character_images need an ip_adapter (repo, weight_name) to take effect",
    ),
    "missing-image": (
        image(ip_adapter={"repo": "./ip", "weight_name": "ip-adapter.safetensors"}, character_images={"Mira": "x.png"}),
        "image character_images.Mira file ",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_model_backends_bad_option_is_refused_before_any_work(tiny, tmp_path, mistake):
    edit, expected = MISTAKES[mistake]
    assert expected in refused(tmp_path, variant(tiny, mistake, edit))


@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="this torch has CUDA")
def test_cuda_on_a_torch_without_it_is_refused_before_any_work(tiny, tmp_path):
    line = refused(tmp_path, variant(tiny, "cuda", image(device="cuda")))
    assert line == f"image device 'cuda' but this torch ({torch.__version__}) has no CUDA; use device: auto or cpu"


@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="this torch has CUDA")
def test_the_backend_refuses_cuda_before_loading_its_model(tiny):
    """A film registered without the CLI's check (from the UI) finds it in the step, still before loading."""
    with pytest.raises(ModelLoadError, match=r"^device 'cuda' but this torch \(.*\) has no CUDA; use device: auto"):
        DiffusersImage(str(tiny.parent / "image"), device="cuda")


def test_the_studio_profile_is_checked_without_its_models(tmp_path, monkeypatch):
    """The shipped profile passes (no false alarm) and a slip in it is found, though none of its models is here."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # its hub models are not cached here
    assert check_profile("studio").name == "studio"
    studio = yaml.safe_load(resolve_profile_path("studio").read_text(encoding="utf-8"))
    studio["backends"]["music"]["max_window"] = 30
    slip = tmp_path / "studio.yaml"
    slip.write_text(yaml.safe_dump(studio), encoding="utf-8")
    with pytest.raises(ProfileError, match=r"music backend musicgen has no option 'max_window' \(did you mean 'max_w"):
        check_profile(str(slip))


def test_character_images_and_ip_adapter_are_found_beside_the_profile(tiny, tmp_path, monkeypatch):
    (tiny.parent / "references").mkdir()
    Image.new("RGB", (48, 48), RED).save(tiny.parent / "references" / "mira.png")
    adapter = {"repo": "./ip", "weight_name": "ip-adapter.safetensors"}
    references = image(ip_adapter=adapter, character_images={"Mira": "references/mira.png"})
    profile = variant(tiny, "with-references", references)
    monkeypatch.chdir(tmp_path)  # elsewhere than the profile
    check_profile(str(profile))
    backend = build_backends(str(profile)).image
    assert backend.references["Mira"].getpixel((0, 0)) == RED


def fake_hub_cache(cache: Path, repo_id: str, model: Path, commit: str) -> None:
    """``model`` in a Hugging Face cache as a download of ``repo_id`` at branch main, commit ``commit``."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    (repo / "snapshots").mkdir()
    (repo / "snapshots" / commit).symlink_to(model, target_is_directory=True)


def test_offline_a_pinned_revision_missing_from_the_cache_is_named(tiny, tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    fake_hub_cache(tmp_path / "hub", "org/tiny-image", tiny.parent / "image", commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    for revision in ("main", commit):
        assert load_profile(str(variant(tiny, f"at-{revision}", image(model="org/tiny-image", revision=revision))))
    with pytest.raises(ProfileError, match="image model org/tiny-image revision v2 is not in the Hugging Face cache"):
        load_profile(str(variant(tiny, "at-v2", image(model="org/tiny-image", revision="v2"))))

    elsewhere = tmp_path / "render"
    elsewhere.mkdir()
    line = refused(elsewhere, tiny.parent / "at-v2.yaml", HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"))
    assert line.startswith("image model org/tiny-image revision v2 is not in the Hugging Face cache")


LOAD_TWICE = textwrap.dedent("""
    import json, sys, time
    from filmgen_dagster.errors import ModelLoadError
    from filmgen_dagster.profiles import build_backends

    tries = []
    for _ in range(2):
        started = time.perf_counter()
        try:
            build_backends(sys.argv[1]).load("image")
        except ModelLoadError as exc:
            tries.append((str(exc), time.perf_counter() - started))
    print(json.dumps(tries))
""")


def test_an_unreachable_hub_is_named_once_and_not_waited_for_again(tiny, tmp_path):
    """HF_HUB_OFFLINE unset and no network: the first shot's load gives up after huggingface_hub's retries
    (half a minute) and says why; the next shot in the process fails at once, with the same line."""
    profile = variant(tiny, "hub-image", image(model="nobody/no-such-model"))
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9")  # port 9 (discard): refused
    done = subprocess.run(
        [sys.executable, "-c", LOAD_TWICE, str(profile)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    (first, _), (again, seconds) = json.loads(done.stdout)
    assert first == (
        "image model 'nobody/no-such-model' could not be loaded: 127.0.0.1:9 is unreachable and nobody/no-such-model"
        f" is not (fully) in the Hugging Face cache (HF_HOME={tmp_path / 'hf'}); download it, or set HF_HUB_OFFLINE=1"
        " with a cached model"
    )
    assert again == first and seconds < 1.0
