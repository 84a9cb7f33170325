"""Shot prompts from the editable templates in prompts/ (style presets and the shot template)."""

from __future__ import annotations

from functools import cache

import yaml

from filmgen_dagster.domain import FilmPlan, Shot, ShotPrompt, StyleBible, StylePreset
from filmgen_dagster.keys import stable_seed
from filmgen_dagster.project_files import project_file, project_files


@cache
def load_styles() -> dict[str, StylePreset]:
    """The built-in styles and those of $FILMGEN_PROMPTS_DIR/styles, whose files override same-named ones."""
    styles = {}
    for path in project_files("prompts", "styles/*.yaml"):
        preset = StylePreset.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        styles[preset.name] = preset
    return styles


@cache
def load_shot_template() -> dict:
    """$FILMGEN_PROMPTS_DIR/shot_prompt.yaml if there is one, else the built-in template."""
    return yaml.safe_load(project_file("prompts", "shot_prompt.yaml").read_text(encoding="utf-8"))


def build_shot_prompt(plan: FilmPlan, shot: Shot, bible: StyleBible) -> ShotPrompt:
    template = load_shot_template()
    style = bible.style
    characters = [c for name in shot.characters if (c := bible.character(name))]
    described = "; ".join(f"{c.name}: {c.description}" for c in characters)
    scene = plan.scene_of(shot)
    # A template written before scenes had settings has no phrases for them, and gets none.
    phrases = template.get("setting", {})
    named = (scene.setting.time_of_day, scene.setting.weather, *scene.setting.places)
    prop_phrases, carried = template.get("props", {}), [prop for prop in shot.props if prop.carried]
    fields = {
        "style_prefix": style.prompt_prefix,
        "style_suffix": style.prompt_suffix,
        "framing": template["framing"][shot.framing.value],
        "camera": template["camera"][shot.camera.value],
        "mood": template["mood"][shot.mood.value],
        "visual": (shot.visual_en or shot.visual).rstrip(".।"),
        "setting": "".join(f", {phrases[v.value]}" for v in named if v is not None and phrases.get(v.value)),
        # What the shot's text calls "it": a diffusion model would not know it is the boat of the shot before.
        "props": next((f", with {prop_phrases[p.kind.value]}" for p in carried if prop_phrases.get(p.kind.value)), ""),
        "characters": f". {template['characters_intro']} {described}." if described else ".",
    }
    negative = ", ".join(p for p in (template["negative_prompt"], style.negative_prompt) if p)
    return ShotPrompt(
        shot_key=shot.key,
        prompt=" ".join(template["template"].format_map(fields).split()),
        negative_prompt=negative,
        seed=stable_seed(plan.film_key, shot.key),
        style=style.name,
        characters=characters,
        caption=shot.visual,
        scene_heading=scene.heading,
        shot_label=f"Scene {shot.scene_number} · Shot {shot.number_in_scene}",
        framing=shot.framing,
        camera=shot.camera,
        mood=shot.mood,
        setting=scene.setting,
        speakers=list(
            dict.fromkeys(line.speaker for lines in shot.narration.values() for line in lines if line.speaker)
        ),
        props=shot.props,
        extras=shot.extras,
    )
