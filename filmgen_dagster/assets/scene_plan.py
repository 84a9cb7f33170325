import dagster as dg

from filmgen_dagster.domain import FilmPlan, NarrationLine, Story
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio


# Materializing a film's `story` in the UI is enough: the plan and style bible follow, then the sensors.
@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=["story"],
    kinds={"python"},
    automation_condition=dg.AutomationCondition.eager(),
)
def scene_plan(context: dg.AssetExecutionContext, media: MediaStore, studio: FilmStudio) -> dg.MaterializeResult:
    """Scenes → shots: visual, narration per language, duration, characters, framing, camera, mood."""
    film_key = context.partition_key
    parsed = require(media, "story", film_key, Story)
    reg = registration(media, film_key)
    profile_backends = studio.backends(reg.profile)
    output = studio.profile(reg.profile).output
    plan = profile_backends.planner.plan(parsed, film_key, output.fps, output.width, output.height)
    translated = _translate_missing(plan, profile_backends.translator) if profile_backends.translator else 0
    version = media.write_record("scene_plan", film_key, plan)
    scene_rows = "\n".join(
        f"| {scene.number} | {_cell(scene.heading)} | {scene.mood.value} "
        f"| {scene.setting.time_of_day.value if scene.setting.time_of_day else ''} "
        f"| {scene.setting.weather.value if scene.setting.weather else ''} "
        f"| {', '.join(place.value for place in scene.setting.places)} | {len(scene.shots)} |"
        for scene in plan.scenes
    )
    rows = "\n".join(
        f"| {s.key} | {s.framing.value} | {s.camera.value} | {s.mood.value} | {s.planned_duration_s:.1f} "
        f"| {', '.join([*s.characters, *(f'({extra.label})' for extra in s.extras)])} "
        f"| {', '.join(prop.kind.value for prop in s.props)} | {_cell(s.visual[:60])} |"
        for s in plan.shots
    )
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "scenes": len(plan.scenes),
            "shots": len(plan.shots),
            "planned_duration_s": round(plan.planned_duration_s, 2),
            "planner": f"{profile_backends.planner.backend_id} ({profile_backends.planner.model_id})",
            "output": f"{plan.width}x{plan.height} @ {plan.fps} fps",
            "machine_translated_lines": translated,
            "scene_list": dg.MetadataValue.md(
                "| scene | heading | mood | time of day | weather | places | shots |\n|---|---|---|---|---|---|---|\n"
                + scene_rows
            ),
            "shot_list": dg.MetadataValue.md(
                "| shot | framing | camera | mood | s | characters | props | visual |\n|---|---|---|---|---|---|---|---|\n"
                + rows
            ),
        }
    )


def _cell(text: str) -> str:
    """Text inside a Markdown table cell (a pipe would end the cell)."""
    return text.replace("|", "/")


def _translate_missing(plan: FilmPlan, translator) -> int:
    """Fill languages a shot has no text for by translating its English lines (marked as such)."""
    count = 0
    for language in plan.languages:
        if language == "en":
            continue
        shots = [s for s in plan.shots if s.narration.get("en") and not s.narration.get(language)]
        lines = [line for shot in shots for line in shot.narration["en"]]
        if not lines:
            continue
        texts = iter(translator.translate([line.text for line in lines], "en", language))
        for shot in shots:
            shot.narration[language] = [
                NarrationLine(text=next(texts), speaker=line.speaker, machine_translated=True)
                for line in shot.narration["en"]
            ]
        count += len(lines)
    return count
