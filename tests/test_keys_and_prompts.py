from conftest import EXAMPLES
from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.domain import CharacterSheet, StyleBible
from filmgen_dagster.keys import film_of_shot, shot_key, slugify, stable_seed
from filmgen_dagster.prompts import build_shot_prompt, load_styles
from filmgen_dagster.story_format import load_story


def test_slugify_is_safe_for_any_title():
    assert slugify("The Tide Clock") == "the-tide-clock"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("Café <b>Noir</b>") == "cafe-b-noir-b"
    hindi = slugify("समुद्र की घड़ी")
    assert hindi.startswith("film-") and hindi == slugify("समुद्र की घड़ी")
    assert len(slugify("x" * 500)) <= 48


def test_shot_keys_embed_the_film():
    key = shot_key("tide-clock", 2, 3)
    assert key == "tide-clock__s02-03" and film_of_shot(key) == "tide-clock"


def test_style_presets_exist():
    assert {"cinematic", "anime", "noir", "watercolor"} <= set(load_styles())


def test_shot_prompt_combines_template_style_characters_and_seed():
    story = load_story(EXAMPLES / "tide-clock.md")
    plan = RuleBasedPlanner().plan(story, "the-tide-clock", 24, 1280, 720)
    bible = StyleBible(
        film_key="the-tide-clock",
        style=load_styles()["watercolor"],
        base_seed=1,
        characters=[CharacterSheet(name="Mira", description=story.characters["Mira"], seed=7, colour="#f00", voice="f2")],
    )
    prompt = build_shot_prompt(plan, plan.shots[0], bible)
    assert prompt.prompt.startswith("watercolor painting")
    assert "wide establishing shot" in prompt.prompt and "yellow raincoat" in prompt.prompt
    assert "watermark" in prompt.negative_prompt and "photograph" in prompt.negative_prompt
    assert prompt.seed == stable_seed("the-tide-clock", plan.shots[0].key)
    assert build_shot_prompt(plan, plan.shots[0], bible) == prompt
    assert build_shot_prompt(plan, plan.shots[1], bible).seed != prompt.seed


def test_shot_prompt_names_the_scenes_time_weather_and_places():
    story = load_story(EXAMPLES / "tide-clock.md")
    plan = RuleBasedPlanner().plan(story, "the-tide-clock", 24, 1280, 720)
    bible = StyleBible(film_key="the-tide-clock", style=load_styles()["watercolor"], base_seed=1, characters=[])
    storm = plan.scenes[1].shots[1]  # "Mira held the lantern while Tomas turned the great key against the wind."
    prompt = build_shot_prompt(plan, storm, bible)
    assert "against the wind, at night, in a storm, by the water. hard shadows" in prompt.prompt
    assert prompt.setting == plan.scenes[1].setting


def test_shot_prompt_names_who_speaks():
    story = load_story(EXAMPLES / "night-market.fountain")
    plan = RuleBasedPlanner().plan(story, "the-night-market", 24, 1280, 720)
    bible = StyleBible(film_key="the-night-market", style=load_styles()["cinematic"], base_seed=1, characters=[])
    # Lanterns and Priya at her grill, then her line "Two more plates and we can close."
    assert build_shot_prompt(plan, plan.shots[0], bible).speakers == ["Priya"]
    assert build_shot_prompt(plan, plan.scenes[1].shots[0], bible).speakers == ["Priya"]


def test_shot_prompt_names_what_its_text_calls_it():
    story = load_story(EXAMPLES / "paper-boat.txt")
    plan = RuleBasedPlanner().plan(story, "the-paper-boat", 24, 1280, 720)
    bible = StyleBible(film_key="the-paper-boat", style=load_styles()["cinematic"], base_seed=1, characters=[])
    first, second = (build_shot_prompt(plan, shot, bible) for shot in plan.shots[:2])
    # "He set it on the rain-filled street ...": a diffusion model is told "it" is the boat of the shot before.
    assert "the sleeping dog, with a boat, in the rain" in second.prompt
    assert second.props == plan.shots[1].props
    assert build_shot_prompt(plan, plan.shots[4], bible).extras == plan.shots[4].extras  # "a little girl"
    # A prop the shot's own text names is not said twice.
    assert "paper boat" in first.prompt and "with a boat" not in first.prompt
