"""Which shots' media were made for another version of the film: what the sound and cut refuse."""

from __future__ import annotations

from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.domain import CameraMove, ClipRecord, MediaRef, StyleBible
from filmgen_dagster.film_records import shot_basis, stale_shots
from filmgen_dagster.prompts import load_styles
from filmgen_dagster.story_format import load_story

STORY = "# The Hall\n\nMira walks down the hall.\n\n[continuous] Her footsteps echo as the far end grows bright.\n"


def _film(tmp_path, text=STORY):
    path = tmp_path / "hall.md"
    path.write_text(text, encoding="utf-8")
    plan = RuleBasedPlanner().plan(load_story(path), "hall", 24, 1280, 720)
    bible = StyleBible(film_key="hall", style=load_styles()["cinematic"], base_seed=1, characters=[])
    return plan, bible


def _clip(shot, bible, digest: str, continues: str | None = None) -> ClipRecord:
    return ClipRecord(
        shot_key=shot.key, video=MediaRef(digest=digest, ext=".mp4", size=1), duration_s=2.0, frames=48, fps=24,
        camera=CameraMove.push_in, fade_in=False, fade_out=False, backend="test", model_id="test", seed=1,
        made_for=shot_basis(shot, bible), continues_clip=continues,
    )  # fmt: skip


def test_media_made_for_the_current_shots_are_current(tmp_path):
    plan, bible = _film(tmp_path)
    first, second = plan.shots
    assert second.continues_previous
    assert stale_shots(plan, bible, [_clip(first, bible, "a"), _clip(second, bible, "b", continues="a")]) == []


def test_a_shot_edited_or_a_style_bible_changed_since_is_stale(tmp_path):
    plan, bible = _film(tmp_path)
    edited, _ = _film(tmp_path, STORY.replace("walks down", "walks along"))
    clips = [_clip(shot, bible, digest) for shot, digest in zip(edited.shots, "ab")]
    assert stale_shots(plan, bible, clips) == [plan.shots[0].key]
    recast = bible.model_copy(update={"base_seed": 2})
    assert stale_shots(plan, recast, [_clip(s, bible, d) for s, d in zip(plan.shots, "ab")]) == [
        s.key for s in plan.shots
    ]


def test_a_continuation_started_from_a_clip_the_shot_before_no_longer_has_is_stale(tmp_path):
    plan, bible = _film(tmp_path)
    first, second = plan.shots
    rerendered = [_clip(first, bible, "a2"), _clip(second, bible, "b", continues="a")]
    assert stale_shots(plan, bible, rerendered) == [second.key]
