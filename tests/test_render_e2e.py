"""End to end: `filmgen render` on an example story through the real asset graph, checked by decoding."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image, ImageSequence

from conftest import EXAMPLES, FilmEnv, make_film_env
from filmgen_dagster.assets.film_report import SHEET_COLUMNS
from filmgen_dagster.assets.keyframe import THUMBNAIL_WIDTH
from filmgen_dagster.audio import active_ratio, read_wav
from filmgen_dagster.av import count_frames, decode_audio, decode_frames, extract_subtitles, probe
from filmgen_dagster.domain import FilmManifest, KeyframeRecord, MusicRecord, NarrationRecord
from filmgen_dagster.jobs import FILM_ASSEMBLY_ASSETS, FILM_CUT_ASSETS, FILM_SETUP_ASSETS, FILM_SOUND_ASSETS, SHOT_ASSETS
from filmgen_dagster.resources.media_store import MediaStore
from filmgen_dagster.titles import TITLE_START_S

STORY = EXAMPLES / "night-market.fountain"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[FilmEnv, Path, FilmManifest, str]:
    env = make_film_env(tmp_path_factory.mktemp("e2e"))
    result = env.render(STORY)
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    manifest = FilmManifest.model_validate_json((env.out / "the-night-market.report.json").read_text())
    return env, mp4, manifest, result.stderr


def test_prints_absolute_mp4_path_last(rendered):
    env, mp4, _, progress = rendered
    assert mp4.is_absolute() and mp4.suffix == ".mp4" and mp4.is_file()
    assert mp4.parent == env.out.resolve()
    assert "shot 3/3 the-night-market__s02-01 ok" in progress


def test_streams_are_h264_plus_aac_and_subtitles_per_language(rendered):
    _, mp4, _, _ = rendered
    streams = probe(mp4).streams
    video = [s for s in streams if s.kind == "video"]
    audio = [s for s in streams if s.kind == "audio"]
    subtitles = [s for s in streams if s.kind == "subtitle"]
    assert [s.codec for s in video] == ["h264"]
    assert (video[0].width, video[0].height, video[0].fps) == (1280, 720, 24)
    assert [(s.codec, s.language) for s in audio] == [("aac", "eng"), ("aac", "hin")]
    assert [(s.codec, s.language) for s in subtitles] == [("mov_text", "eng"), ("mov_text", "hin")]


def test_duration_matches_the_shots_and_the_plan(rendered):
    _, mp4, manifest, _ = rendered
    timeline = sum(shot.duration_s for shot in manifest.shots)
    assert probe(mp4).duration_s == pytest.approx(timeline, abs=0.1)
    assert count_frames(mp4) == round(timeline * 24)
    # Measured narration sets the final length; it stays close to the planner's estimate.
    assert timeline == pytest.approx(manifest.plan.planned_duration_s, rel=0.4)


def test_frames_change_over_time(rendered):
    _, mp4, manifest, _ = rendered
    duration = sum(shot.duration_s for shot in manifest.shots)
    frames = decode_frames(mp4, list(np.linspace(0.6, duration - 0.6, 8)))
    diffs = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    assert min(diffs) > 0.5, diffs
    # Fades: the film starts from black.
    assert decode_frames(mp4, [0.0])[0].mean() < 20


def test_the_film_opens_with_its_title(rendered):
    env, mp4, manifest, _ = rendered
    first = manifest.shots[0].shot_key
    clips = env.instance().fetch_materializations(dg.AssetKey("clip"), limit=100).records
    titles = {record.partition_key: record.asset_materialization.metadata["title"].value for record in clips}
    assert titles.pop(first) == "The Night Market" and not any(titles.values())
    # White letters across the middle of the night market while the title shows, and not once it has gone.
    shown, gone = decode_frames(mp4, [TITLE_START_S + 1.0, manifest.shots[0].duration_s - 0.6], size=(320, 180))
    white = [(frame[60:100].min(axis=-1) > 220).sum() for frame in (shown, gone)]
    assert white[0] > white[1] + 200, white


def test_narration_is_audible_in_both_languages(rendered):
    _, mp4, manifest, _ = rendered
    english, hindi = decode_audio(mp4, 0), decode_audio(mp4, 1)
    assert active_ratio(english) > 0.5
    assert active_ratio(hindi) > 0.2
    # Only the first dialogue line has Hindi: the rest is listed, not invented.
    # Each by its own line and words, though it is spoken over the shot of the action before it.
    assert manifest.missing_lines["hi"] == [
        "line 15: I have been looking for this smell for twenty years.",
        "line 22: Then stay for one more.",
    ]
    assert "en" not in manifest.missing_lines


def test_each_languages_score_dips_only_under_its_own_voice(rendered):
    env, *_ = rendered
    media = MediaStore(root=str(env.media))
    narration = media.read_record("narration", "the-night-market", NarrationRecord)
    scores = media.read_record("music", "the-night-market", MusicRecord).scores

    def levels(ref) -> np.ndarray:  # dBFS per 50 ms
        x = read_wav(media.local_path(ref))
        blocks = x[: len(x) // 2400 * 2400].reshape(-1, 2400).astype(np.float64)
        return 10 * np.log10((blocks**2).mean(axis=1) + 1e-12)

    en_voice, hi_voice = levels(narration.tracks["en"]), levels(narration.tracks["hi"])
    en_under_hi = levels(scores["en"]) - levels(scores["hi"])
    # The film's last two shots have no Hindi text: only the English voice speaks there.
    english_only = (en_voice > -40) & (hi_voice < -80)
    assert english_only.sum() > 20 and np.median(en_under_hi[english_only]) < -8
    # Before anyone speaks, both are the same score.
    first_word = int(np.argmax((en_voice > -80) | (hi_voice > -80)))
    assert first_word > 5 and np.abs(en_under_hi[:first_word]).max() < 0.5


def test_subtitles_carry_the_dialogue(rendered):
    _, mp4, _, _ = rendered
    english, hindi = extract_subtitles(mp4, 0), extract_subtitles(mp4, 1)
    assert "Two more plates" in english and "twenty years" in english
    assert "दो प्लेटें" in hindi and "twenty years" not in hindi


def test_every_partition_is_materialized(rendered):
    env, _, manifest, _ = rendered
    instance = env.instance()
    shots = [shot.shot_key for shot in manifest.shots]
    assert instance.get_dynamic_partitions("films") == ["the-night-market"]
    assert sorted(instance.get_dynamic_partitions("shots")) == sorted(shots)
    for asset in SHOT_ASSETS:
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(shots), asset
    for asset in FILM_SETUP_ASSETS + FILM_ASSEMBLY_ASSETS:
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {"the-night-market"}, asset


def test_the_sound_runs_once_every_narration_is_in_and_the_cut_once_every_clip_is(rendered):
    env, _, manifest, _ = rendered
    instance = env.instance()
    # The first render's assembly runs (a later test renders again): the sound, then the cut.
    sound, cut = sorted(
        instance.get_run_records(dg.RunsFilter(job_name="film_assembly_job")), key=lambda r: r.create_timestamp
    )[:2]
    assert sound.dagster_run.asset_selection == {dg.AssetKey(asset) for asset in FILM_SOUND_ASSETS}
    assert cut.dagster_run.asset_selection == {dg.AssetKey(asset) for asset in FILM_CUT_ASSETS}

    def first_materialized(asset: str) -> dict[str, float]:
        first: dict[str, float] = {}
        for record in instance.fetch_materializations(dg.AssetKey(asset), limit=100).records:
            first[record.partition_key] = min(first.get(record.partition_key, record.timestamp), record.timestamp)
        return first

    narrated, clipped = first_materialized("shot_narration"), first_materialized("clip")
    assert set(narrated) == set(clipped) == {shot.shot_key for shot in manifest.shots}
    assert max(narrated.values()) < sound.start_time
    assert max(clipped.values()) < cut.start_time and sound.end_time <= cut.start_time


def test_scene_plan_metadata_lists_each_scenes_setting(rendered):
    env, *_ = rendered
    event = env.instance().get_latest_materialization_event(dg.AssetKey("scene_plan"))
    scenes = event.asset_materialization.metadata["scene_list"].value.splitlines()[2:]
    assert scenes == [
        "| 1 | EXT. NIGHT MARKET - NIGHT | mysterious | night |  | town | 2 |",
        "| 2 | INT. PRIYA'S KITCHEN - LATER | mysterious | night |  | interior | 1 |",
    ]


def test_shot_list_and_shot_prompt_metadata_name_each_shots_props(rendered):
    env, *_ = rendered
    instance = env.instance()
    event = instance.get_latest_materialization_event(dg.AssetKey("scene_plan"))
    first = event.asset_materialization.metadata["shot_list"].value.splitlines()[2]
    assert "| Priya | lantern | Lanterns sway above crowded stalls." in first
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("shot_prompt"), asset_partitions=["the-night-market__s01-01"]),
        limit=1,
    ).records
    assert records[0].asset_materialization.metadata["props"].value == "lantern"


def test_style_bible_metadata_says_how_each_character_is_drawn(rendered):
    env, *_ = rendered
    event = env.instance().get_latest_materialization_event(dg.AssetKey("style_bible"))
    characters = event.asset_materialization.metadata["characters"].value
    assert "drawn: coat green): a young cook in a green apron" in characters
    assert "drawn: coat grey, tall): a tall man in a grey coat" in characters


def test_keyframe_metadata_has_a_thumbnail_the_ui_renders(rendered):
    env, _, manifest, _ = rendered
    event = env.instance().get_latest_materialization_event(dg.AssetKey("keyframe"))
    metadata = event.asset_materialization.metadata
    assert metadata["preview"].value.startswith("![") and "data:image/jpeg;base64," in metadata["preview"].value
    assert Path(metadata["path"].value).is_file()
    assert metadata["backend"].value == "storyboard"
    assert metadata["seed"].value in {shot.seed for shot in manifest.shots}


def test_clip_metadata_has_an_animated_preview_the_ui_plays(rendered):
    env, *_ = rendered
    event = env.instance().get_latest_materialization_event(dg.AssetKey("clip"))
    markdown = event.asset_materialization.metadata["preview"].value
    prefix = "data:image/gif;base64,"
    assert markdown.startswith("![") and prefix in markdown
    gif = Image.open(io.BytesIO(base64.b64decode(markdown.split(prefix)[1].rstrip(")"))))
    frames = [np.asarray(frame.convert("RGB"), dtype=np.int16) for frame in ImageSequence.Iterator(gif)]
    assert gif.size == (160, 90) and 4 <= len(frames) <= 12
    assert np.abs(frames[0] - frames[-1]).mean() > 1  # the camera moves
    clip_s = event.asset_materialization.metadata["duration_s"].value
    assert abs(sum(frame.info["duration"] for frame in ImageSequence.Iterator(gif)) / 1000 - clip_s) < 0.6


def test_rerender_reuses_work_and_is_byte_identical(rendered):
    env, mp4, manifest, _ = rendered
    first = mp4.read_bytes()
    again = env.render(STORY)
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip().splitlines()[-1]).read_bytes() == first
    second = FilmManifest.model_validate_json((env.out / "the-night-market.report.json").read_text())
    assert [s.outputs for s in second.shots] == [s.outputs for s in manifest.shots]
    clip_events = env.instance().fetch_materializations(dg.AssetKey("clip"), limit=1).records
    assert clip_events[0].asset_materialization.metadata["cached"].value is True
    # Each asset's data version is its record's content hash: the re-render made the same versions again,
    # so Dagster keeps everything downstream in sync.
    film, shot = "the-night-market", "the-night-market__s01-01"
    versions = {}
    for asset, partition in (
        *((asset, film) for asset in (*FILM_SETUP_ASSETS, *FILM_ASSEMBLY_ASSETS)),
        *((asset, shot) for asset in SHOT_ASSETS),
    ):
        records = env.instance().fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=2
        ).records
        first_and_again = {record.asset_materialization.tags["dagster/data_version"] for record in records}
        assert len(records) == 2 and len(first_and_again) == 1, asset
        versions[asset] = first_and_again.pop()
    clip_record = (env.media / "records" / "clip" / f"{shot}.json").read_bytes()
    assert versions["clip"] == hashlib.sha256(clip_record).hexdigest()[:16]
    assert len(set(versions.values())) == len(versions)  # a version says what was made, not when


def test_soundtrack_level_check_is_measured_once_and_kept(rendered):
    # Runs after the re-render above: the second soundtrack materialization was found by hash.
    env, _, _, _ = rendered
    instance = env.instance()
    soundtracks = instance.fetch_materializations(dg.AssetKey("soundtrack"), limit=2).records
    assert [r.asset_materialization.metadata["cached"].value for r in soundtracks] == [True, False]
    check = dg.AssetCheckKey(dg.AssetKey("soundtrack"), "narration_over_music")
    history = instance.event_log_storage.get_asset_check_execution_history(check, limit=2)
    evaluations = [record.event.dagster_event.event_specific_data for record in history]
    assert [e.passed for e in evaluations] == [True, True]
    english = [e.metadata["en_db"].value for e in evaluations]
    assert english[0] == english[1] and 6 <= english[0] <= 40


def test_report_lists_everything_needed_to_reproduce(rendered):
    env, _, manifest, _ = rendered
    report = json.loads((env.out / "the-night-market.report.json").read_text())
    assert report["story_hash"] and report["profile"] == "animatic"
    assert {"final_cut", "music_en", "music_hi", "narration_en", "subtitles_en", "subtitles_hi"} <= set(
        report["outputs"]
    )
    assert all(shot["prompt"] and shot["outputs"]["clip"] for shot in report["shots"])
    # The contact sheet: four thumbnails a row under their labels, each cell holding its own shot's
    # thumbnail in film order, the cells after the last shot empty.
    sheet = np.asarray(Image.open(env.out / "the-night-market.contact-sheet.png").convert("RGB"), np.float32)
    shots = len(report["shots"])
    rows = -(-shots // SHEET_COLUMNS)
    cell_width, cell_height = sheet.shape[1] // SHEET_COLUMNS, sheet.shape[0] // rows
    assert sheet.shape[1] == SHEET_COLUMNS * THUMBNAIL_WIDTH and sheet.shape[0] == rows * cell_height
    cells = sheet.reshape(rows, cell_height, SHEET_COLUMNS, cell_width, 3).swapaxes(1, 2)
    cells = cells.reshape(-1, cell_height, cell_width, 3)
    media = MediaStore(root=str(env.media))
    for cell, shot in zip(cells, report["shots"]):
        thumbnail = media.local_path(media.read_record("keyframe", shot["shot_key"], KeyframeRecord).thumbnail)
        pasted = np.asarray(Image.open(thumbnail).convert("RGB"), np.float32)
        assert np.array_equal(cell[cell_height - pasted.shape[0] :], pasted), shot["shot_key"]
    background = np.array([0x10, 0x12, 0x14], np.float32)
    assert all(np.abs(cell - background).max() == 0 for cell in cells[shots:])


def test_a_story_told_in_hindi_is_a_hindi_film(tmp_path):
    story = tmp_path / "nav.md"
    story.write_text(
        "---\ntitle: बारिश की नाव\ncharacters:\n  सीता: a girl in a yellow raincoat\n---\n# पहला दृश्य\n\n"
        'सीता ने कागज़ की नाव बनाई और उसे पानी में रखा। "रुको!" सीता ने कहा।\n',
        encoding="utf-8",
    )
    env = make_film_env(tmp_path / "env")
    result = env.render(story)
    assert result.returncode == 0, result.stderr
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    streams = probe(mp4).streams
    assert [(s.codec, s.language) for s in streams if s.kind == "audio"] == [("aac", "hin")]
    assert [(s.codec, s.language) for s in streams if s.kind == "subtitle"] == [("mov_text", "hin")]
    assert active_ratio(decode_audio(mp4, 0)) > 0.5  # spoken, not a silent track
    assert "सीता ने कहा" in extract_subtitles(mp4, 0)
    manifest = FilmManifest.model_validate_json(next(env.out.glob("*.report.json")).read_text())
    assert manifest.missing_lines == {}
    assert [line.speaker for line in manifest.plan.shots[0].narration["hi"]] == [None, "सीता", None]
    # Asked for English, which the story does not have: silent, and the report says which lines.
    english = make_film_env(tmp_path / "english")
    result = english.render(story, "--languages", "en")
    assert result.returncode == 0, result.stderr
    assert "1 line(s) have no en text and are silent in that track" in result.stderr
    manifest = FilmManifest.model_validate_json(next(english.out.glob("*.report.json")).read_text())
    assert list(manifest.missing_lines) == ["en"] and "सीता ने" in manifest.missing_lines["en"][0]


def test_a_line_without_english_is_listed_and_silent_though_its_shot_speaks_english(tmp_path):
    """One shot: Priya's line in both languages, then Sita's in Hindi alone. That line, not the shot, has no
    English: the report lists it by its own story line, and the English track and subtitles leave it out."""
    story = tmp_path / "wait.fountain"
    story.write_text(
        "Title: Wait\n\nINT. KITCHEN - NIGHT\n\nPRIYA, a young cook, fans the coals.\n\n"
        "PRIYA\nThe rain is coming.\n[hi] बारिश आ रही है।\n\n@सीता\nरुको!\n",
        encoding="utf-8",
    )
    env = make_film_env(tmp_path / "env")
    result = env.render(story)
    assert result.returncode == 0, result.stderr
    assert "1 line(s) have no en text and are silent in that track" in result.stderr
    report = json.loads((env.out / "wait.report.json").read_text(encoding="utf-8"))
    assert [len(scene["shots"]) for scene in report["plan"]["scenes"]] == [1]
    assert report["missing_lines"] == {"en": ["line 12: रुको!"]}
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    english, hindi = extract_subtitles(mp4, 0), extract_subtitles(mp4, 1)
    assert "The rain is coming." in english and "रुको" not in english
    assert "रुको!" in hindi
