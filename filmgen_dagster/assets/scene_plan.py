import dagster as dg

from filmgen_dagster.backends.base import TranslatorBackend
from filmgen_dagster.domain import FilmPlan, Shot, Story
from filmgen_dagster.film_records import registration, require
from filmgen_dagster.partitions import films
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.resources.studio import FilmStudio
from filmgen_dagster.story_format import written_in


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
    translator = _TranslatedOnce(profile_backends.translator) if profile_backends.translator else None
    translated = _translate_missing(plan, translator) if translator else 0
    translated_visuals = _translate_visuals(plan, translator) if translator else 0
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
            "machine_translated_visuals": translated_visuals,
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


class _TranslatedOnce:
    """The translator, asked for each text once per plan: a story told in Hindi has most of its shots' text
    translated both for the English track and for the prompts, and the two are often the same paragraph."""

    def __init__(self, translator: TranslatorBackend) -> None:
        self.can_translate = translator.can_translate
        self._translator = translator
        self._done: dict[tuple[str, str, str], str] = {}

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        new = list(dict.fromkeys(text for text in texts if (text, source, target) not in self._done))
        for text, translated in zip(new, self._translator.translate(new, source, target) if new else []):
            self._done[text, source, target] = translated
        return [self._done[text, source, target] for text in texts]


def _translate_missing(plan: FilmPlan, translator: _TranslatedOnce) -> int:
    """Fill languages a shot has no text for by translating its lines in another language, English first
    (marked as such)."""
    count = 0
    for target in plan.languages:
        sources = sorted({code for shot in plan.shots for code in shot.narration}, key=lambda c: (c != "en", c))
        for source in sources:
            if source == target or not translator.can_translate(source, target):
                continue
            shots = [s for s in plan.shots if s.narration.get(source) and not s.narration.get(target)]
            lines = [line for shot in shots for line in shot.narration[source]]
            if not lines:
                continue
            texts = iter(translator.translate([line.text for line in lines], source, target))
            for shot in shots:
                # A translation keeps its speaker and the story line it tells.
                shot.narration[target] = [
                    line.model_copy(update={"text": next(texts), "machine_translated": True})
                    for line in shot.narration[source]
                ]
            count += len(lines)
    return count


def _translate_visuals(plan: FilmPlan, translator: _TranslatedOnce) -> int:
    """English visuals for the prompts of shots told in another language: image and video models are trained
    on English captions, and read a Hindi sentence as noise."""
    by_language: dict[str, list[Shot]] = {}
    for shot in plan.shots:
        language = written_in(shot.visual)
        if language != "en" and translator.can_translate(language, "en"):
            by_language.setdefault(language, []).append(shot)
    for language, shots in by_language.items():
        for shot, text in zip(shots, translator.translate([shot.visual for shot in shots], language, "en")):
            shot.visual_en = text
    return sum(map(len, by_language.values()))
