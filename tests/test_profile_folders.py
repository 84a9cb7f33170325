"""$FILMGEN_PROFILES_DIR and $FILMGEN_PROMPTS_DIR add to the built-in profiles/ and prompts/: a name is
looked up in the user's folder first, then in the built-in one, and the "use one of" lists name both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EXAMPLES, make_film_env
from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.domain import StyleBible
from filmgen_dagster.errors import ProfileError, StoryError, UserInputError
from filmgen_dagster.profiles import build_backends, check_profile, resolve_profile_path
from filmgen_dagster.project_files import project_dir
from filmgen_dagster.prompts import build_shot_prompt, load_shot_template, load_styles
from filmgen_dagster.story_format import load_story

QUICK_PROFILE = """name: quick
output: {width: 320, height: 180, fps: 12}
backends:
  planner: {kind: rules}
  image: {kind: storyboard}
  video: {kind: camera-moves}
  speech: {kind: espeak-ng}
  music: {kind: synth-score}
"""
PASTEL_STYLE = """name: pastel
prompt_prefix: "soft pastel drawing"
palette: ["#5b5f97", "#b8b8ff", "#ffc6ff", "#fff6eb"]
paper: "#fffaf3"
ink: "#3b3b58"
"""


@pytest.fixture
def user_folders(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Empty user folders of profiles and prompts, named by the environment; what they load is forgotten
    before and after the test."""
    profiles, prompts = tmp_path / "my-profiles", tmp_path / "my-prompts"
    (prompts / "styles").mkdir(parents=True)
    profiles.mkdir()
    monkeypatch.setenv("FILMGEN_PROFILES_DIR", str(profiles))
    monkeypatch.setenv("FILMGEN_PROMPTS_DIR", str(prompts))
    caches = (load_styles, load_shot_template, build_backends)
    for cached in caches:
        cached.cache_clear()
    yield profiles, prompts
    for cached in caches:
        cached.cache_clear()


def test_a_user_profile_adds_to_the_built_in_ones(user_folders):
    profiles, _ = user_folders
    (profiles / "quick.yaml").write_text(QUICK_PROFILE, encoding="utf-8")
    assert check_profile("animatic").source == str(project_dir("profiles") / "animatic.yaml")
    assert check_profile("quick").output.width == 320
    with pytest.raises(ProfileError, match="no such profile; use one of animatic, quick, studio or a path"):
        resolve_profile_path("hollywood")


def test_a_user_profile_named_like_a_built_in_one_replaces_it(user_folders):
    profiles, _ = user_folders
    (profiles / "animatic.yaml").write_text(QUICK_PROFILE.replace("quick", "animatic"), encoding="utf-8")
    assert resolve_profile_path("animatic") == profiles / "animatic.yaml"
    assert check_profile("animatic").output.width == 320


def test_a_user_style_adds_to_the_built_in_ones_and_the_built_in_template_still_applies(user_folders):
    _, prompts = user_folders
    (prompts / "styles" / "pastel.yaml").write_text(PASTEL_STYLE, encoding="utf-8")
    assert {"cinematic", "anime", "noir", "watercolor", "pastel"} <= set(load_styles())
    story = load_story(EXAMPLES / "tide-clock.md")  # style: watercolor, a built-in one
    plan = RuleBasedPlanner().plan(story, "the-tide-clock", 24, 1280, 720)
    bible = StyleBible(film_key="the-tide-clock", style=load_styles()["pastel"], base_seed=1, characters=[])
    prompt = build_shot_prompt(plan, plan.shots[0], bible)
    assert prompt.prompt.startswith("soft pastel drawing") and "wide establishing shot" in prompt.prompt


def test_an_unknown_style_lists_the_user_styles_too(user_folders, tmp_path):
    _, prompts = user_folders
    (prompts / "styles" / "pastel.yaml").write_text(PASTEL_STYLE, encoding="utf-8")
    story = tmp_path / "vapor.md"
    story.write_text("---\ntitle: Vapor\nstyle: vaporwave\n---\n\nA lamp hums.\n", encoding="utf-8")
    with pytest.raises(StoryError, match="use one of anime, cinematic, noir, pastel, watercolor$"):
        load_story(story)


def test_user_prompt_files_named_like_built_in_ones_replace_them(user_folders):
    _, prompts = user_folders
    (prompts / "styles" / "watercolor.yaml").write_text(
        PASTEL_STYLE.replace("name: pastel", "name: watercolor"), encoding="utf-8"
    )
    template = (project_dir("prompts") / "shot_prompt.yaml").read_text(encoding="utf-8")
    (prompts / "shot_prompt.yaml").write_text(
        template.replace("wide establishing shot", "very wide shot"), encoding="utf-8"
    )
    story = load_story(EXAMPLES / "tide-clock.md")
    plan = RuleBasedPlanner().plan(story, "the-tide-clock", 24, 1280, 720)
    bible = StyleBible(film_key="the-tide-clock", style=load_styles()["watercolor"], base_seed=1, characters=[])
    prompt = build_shot_prompt(plan, plan.shots[0], bible)
    assert prompt.prompt.startswith("soft pastel drawing") and "very wide shot" in prompt.prompt


def test_a_user_folder_that_does_not_exist_is_named(monkeypatch):
    monkeypatch.setenv("FILMGEN_PROFILES_DIR", "/nonexistent/profiles")
    with pytest.raises(UserInputError, match="FILMGEN_PROFILES_DIR=/nonexistent/profiles: not a folder"):
        resolve_profile_path("animatic")


def test_a_film_renders_with_a_user_profile_and_style_beside_the_built_in_template(tmp_path):
    """The whole pipeline, as a user runs it: the user's folders hold only a profile and a style."""
    profiles, prompts = tmp_path / "my-profiles", tmp_path / "my-prompts"
    (prompts / "styles").mkdir(parents=True)
    profiles.mkdir()
    (profiles / "quick.yaml").write_text(QUICK_PROFILE, encoding="utf-8")
    (prompts / "styles" / "pastel.yaml").write_text(PASTEL_STYLE, encoding="utf-8")
    story = tmp_path / "lamp.md"
    story.write_text("---\ntitle: The Lamp\nstyle: pastel\n---\n\nA lamp hums in the hall.\n", encoding="utf-8")
    env = make_film_env(tmp_path)
    env.extra_env.update(FILMGEN_PROFILES_DIR=str(profiles), FILMGEN_PROMPTS_DIR=str(prompts))
    result = env.render(story, "--profile", "quick")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == env.out / "the-lamp.mp4"
    report = json.loads((env.out / "the-lamp.report.json").read_text(encoding="utf-8"))
    # Stored by path: only a built-in profile is stored by name (registry.record_registration).
    assert report["profile"] == str(profiles / "quick.yaml")
    assert report["shots"][0]["prompt"].startswith("soft pastel drawing")
