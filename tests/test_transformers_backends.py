"""The transformers backends, loaded through their real ``from_pretrained`` code from tiny random checkpoints."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"  # a hub lookup here would be a bug: every model is a local folder

from PIL import Image  # noqa: E402

from filmgen_dagster.backends.base import SAMPLE_RATE, MusicCue  # noqa: E402
from filmgen_dagster.backends.clip_scorer import ClipScorer  # noqa: E402
from filmgen_dagster.backends.llm_planner import LlmPlanner, PlanReplyError, parse_plan_reply  # noqa: E402
from filmgen_dagster.backends.mms_tts import MmsSpeech  # noqa: E402
from filmgen_dagster.backends.musicgen import MusicGen  # noqa: E402
from filmgen_dagster.backends.seq2seq_translator import Seq2SeqTranslator  # noqa: E402
from filmgen_dagster.domain import Mood, Place, Prop, Setting, ShotProp, TimeOfDay  # noqa: E402
from filmgen_dagster.errors import ModelLoadError, ProfileError  # noqa: E402
from filmgen_dagster.keys import shot_key  # noqa: E402
from filmgen_dagster.story_format import load_story  # noqa: E402
from filmgen_dagster.tiny.transformers_models import (  # noqa: E402
    build_tiny_chat_llm,
    build_tiny_clip,
    build_tiny_musicgen,
    build_tiny_seq2seq,
    build_tiny_vits,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Layers a few units wide gain nothing from threads, and on a busy CPU the thread pool's spin-waits
    # make every generate step ~20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-transformers")
    build_tiny_vits(root / "speech-en", "en")
    build_tiny_vits(root / "speech-hi", "hi")
    build_tiny_musicgen(root / "music")
    build_tiny_seq2seq(root / "translator")
    build_tiny_clip(root / "scorer")
    build_tiny_chat_llm(root / "planner")
    return root


def test_speech_speaks_both_languages_reproducibly(models: Path) -> None:
    speech = MmsSpeech(models={"en": str(models / "speech-en"), "hi": str(models / "speech-hi")}, device="cpu")
    english = speech.synthesize("Two more plates and we can close.", "en")
    hindi = speech.synthesize("दो प्लेटें और, फिर हम बंद कर सकते हैं।", "hi")
    for take in (english, hindi):
        assert take.dtype == np.float32 and take.ndim == 1 and len(take) > SAMPLE_RATE // 100
        assert np.abs(take).max() <= 1.0
    assert np.array_equal(english, speech.synthesize("Two more plates and we can close.", "en"))
    assert speech.synthesize("   ", "en").size == 0
    with pytest.raises(ValueError, match="'fr'"):
        speech.synthesize("Bonjour", "fr")


def test_music_is_exactly_as_long_as_asked_and_stitches_long_cues(models: Path) -> None:
    music = MusicGen(model=str(models / "music"), device="cpu", max_window_s=1.0)
    cues = [
        MusicCue(start_s=0.0, duration_s=1.0, mood=Mood.calm),
        # 2.6 s with a 1 s window: three generated windows crossfaded together.
        MusicCue(start_s=1.0, duration_s=2.6, mood=Mood.tense, hint="night market"),
    ]
    score = np.concatenate(list(music.compose(cues, 3.6)))
    assert score.dtype == np.float32 and len(score) == round(3.6 * SAMPLE_RATE)
    assert np.sqrt(np.mean(score**2)) > 10 ** (-40 / 20)
    assert np.abs(score).max() <= 0.98
    assert np.array_equal(score, np.concatenate(list(music.compose(cues, 3.6))))


def test_translator_returns_one_string_per_line(models: Path) -> None:
    translator = Seq2SeqTranslator(
        model=str(models / "translator"),
        device="cpu",
        max_new_tokens=8,
        language_codes={"en": "__en__", "hi": "__hi__"},
    )
    texts = ["Two more plates and we can close.", "", "Then stay for one more."]
    out = translator.translate(texts, "en", "hi")
    assert len(out) == 3 and all(isinstance(t, str) for t in out) and out[1] == ""
    assert translator.translate(texts, "en", "en") == texts
    with pytest.raises(ModelLoadError, match="__xx__"):
        Seq2SeqTranslator(model=str(models / "translator"), device="cpu", language_codes={"en": "__xx__"})


def test_translator_knows_which_ways_it_translates(models: Path) -> None:
    checkpoint = str(models / "translator")
    both_ways = Seq2SeqTranslator(model=checkpoint, device="cpu", language_codes={"en": "__en__", "hi": "__hi__"})
    assert both_ways.can_translate("hi", "en") and both_ways.can_translate("en", "hi")
    assert not both_ways.can_translate("hi", "fr")
    assert Seq2SeqTranslator(model=checkpoint, device="cpu").can_translate("en", "hi")  # one en-hi checkpoint
    one_way = Seq2SeqTranslator(models={"hi-en": checkpoint}, device="cpu")
    assert one_way.can_translate("hi", "en") and not one_way.can_translate("en", "hi")
    assert one_way.model_id == f"hi-en={checkpoint}"
    assert len(one_way.translate(["बारिश हो रही थी।"], "hi", "en")) == 1
    with pytest.raises(ValueError, match="does not translate en to hi"):
        one_way.translate(["It was raining."], "en", "hi")
    with pytest.raises(ProfileError, match="source-target"):
        Seq2SeqTranslator(models={"hindi": checkpoint}, device="cpu")
    with pytest.raises(ProfileError, match="either `model`"):
        Seq2SeqTranslator(model=checkpoint, models={"hi-en": checkpoint}, device="cpu")
    with pytest.raises(ProfileError, match="either `model`"):
        Seq2SeqTranslator(device="cpu")


def test_scorer_gives_a_cosine_that_depends_on_the_image(models: Path) -> None:
    scorer = ClipScorer(model=str(models / "scorer"), device="cpu")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(2)]
    scores = [scorer.score(image, "a lantern-lit night market " * 40) for image in images]
    assert all(isinstance(s, float) and np.isfinite(s) and -1.0 <= s <= 1.0 for s in scores)
    assert scores[0] != scores[1]


def test_llm_planner_falls_back_to_rules_with_the_reason(models: Path) -> None:
    story = load_story(EXAMPLES / "night-market.fountain", ["en", "hi"])
    planner = LlmPlanner(model=str(models / "planner"), device="cpu", max_new_tokens=16, max_tries=2)
    plan = planner.plan(story, "night-market", 12, 320, 180)
    # Random weights never write a valid plan: the rule planner takes over and says why.
    assert planner.last_fallback_reason and "2 tries" in planner.last_fallback_reason
    assert plan.planner == f"transformers-chat → rules (fallback: {planner.last_fallback_reason})"
    assert "\n" not in plan.planner
    assert len(plan.scenes) == len(story.scenes) and plan.shots
    for scene in plan.scenes:
        for number, shot in enumerate(scene.shots, start=1):
            assert shot.key == shot_key("night-market", scene.number, number)
            assert 2.0 <= shot.planned_duration_s <= 10.0


def _shot(**overrides: object) -> dict:
    shot = {
        "visual": "Lanterns sway above the stalls.",
        "narration": {"en": [{"text": "Two more plates and we can close.", "speaker": "PRIYA"}]},
        "duration_s": 14,
        "characters": ["PRIYA"],
        "framing": "wide",
        "camera": "pan_right",
        "mood": "mysterious",
        "source_line": 5,
    }
    return {**shot, **overrides}


def test_plan_reply_is_extracted_from_prose_and_validated() -> None:
    reply = "Here is the plan:\n```json\n" + json.dumps({"scenes": [{"mood": "calm", "shots": [_shot()]}]}) + "\n```"
    plan = parse_plan_reply(reply, scene_count=1)
    assert plan.scenes[0].shots[0].camera.value == "pan_right"
    with pytest.raises(PlanReplyError, match="no JSON object"):
        parse_plan_reply("I cannot do that.", 1)
    with pytest.raises(PlanReplyError, match="JSON is invalid"):
        parse_plan_reply('{"scenes": [{"mood": "calm", "shots": [', 1)
    with pytest.raises(PlanReplyError, match=r"scenes\.0\.shots\.0\.camera"):
        parse_plan_reply(json.dumps({"scenes": [{"mood": "calm", "shots": [_shot(camera="zoom")]}]}), 1)
    with pytest.raises(PlanReplyError, match="2 scenes but the story has 1"):
        parse_plan_reply(json.dumps({"scenes": [{"mood": "calm", "shots": [_shot()]}] * 2}), 1)


def test_llm_planner_reprompts_with_the_error_then_converts_the_plan(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = load_story(EXAMPLES / "night-market.fountain", ["en", "hi"])
    planner = LlmPlanner(model=str(models / "planner"), device="cpu")
    scenes = [{"mood": "calm", "shots": [_shot(), _shot(duration_s=0.5, source_line=999)]} for _ in story.scenes]
    scenes[0]["setting"] = {"time_of_day": "dusk", "places": ["water"]}  # the second scene leaves it to the text
    scenes[0]["shots"][1]["visual"] = "She lifts it to the light."
    replies = iter(["Sure! {not json", json.dumps({"scenes": scenes})])
    prompts: list[list[dict[str, str]]] = []

    def fake_generate(messages: list[dict[str, str]]) -> tuple[str, bool]:
        prompts.append(messages)
        return next(replies), False

    monkeypatch.setattr(planner, "_generate", fake_generate)
    plan = planner.plan(story, "night-market", 12, 320, 180)
    assert "JSON is invalid" in prompts[1][-1]["content"] and prompts[1][-2]["content"] == "Sure! {not json"
    assert plan.planner == "transformers-chat" and planner.last_fallback_reason is None
    assert [s.key for s in plan.scenes[1].shots] == ["night-market__s02-01", "night-market__s02-02"]
    assert [s.planned_duration_s for s in plan.shots[:2]] == [10.0, 2.0]
    # A line number outside the scene falls back to the scene's first line.
    assert plan.shots[1].source_line == story.scenes[0].blocks[0].line
    assert plan.shots[0].narration["en"][0].speaker == "PRIYA"
    assert plan.scenes[0].setting == Setting(time_of_day=TimeOfDay.dusk, places=[Place.water])
    # "INT. PRIYA'S KITCHEN - LATER": indoors, at the time of day the model gave the scene before.
    assert plan.scenes[1].setting == Setting(time_of_day=TimeOfDay.dusk, places=[Place.interior])
    # Props are read from each shot's own words, as the rules planner reads them; "it" is the lantern.
    assert plan.shots[0].props == [ShotProp(kind=Prop.lantern)]
    assert plan.shots[1].props == [ShotProp(kind=Prop.lantern, carried=True)]


def test_missing_model_folder_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError) as info:
        ClipScorer(model=str(missing))
    message = str(info.value)
    assert str(missing) in message and "\n" not in message
