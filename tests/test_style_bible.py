"""Each character's voice follows what the story says about them."""

from __future__ import annotations

from pathlib import Path

from filmgen_dagster.assets.style_bible import voices_for
from filmgen_dagster.backends.espeak import VOICE_VARIANTS
from filmgen_dagster.story_format import load_story

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _story(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_story(path)


def _voices(story) -> dict[str, str]:
    return dict(zip(story.characters, voices_for(story)))


def test_a_description_that_names_a_girl_or_a_bearded_keeper_picks_that_voice():
    voices = _voices(load_story(EXAMPLES / "tide-clock.md"))
    assert voices["Mira"].startswith("f") and voices["Old Tomas"].startswith("m")


def test_the_story_pronouns_decide_when_the_description_does_not():
    voices = _voices(load_story(EXAMPLES / "night-market.fountain"))  # "PRIYA, a young cook ... her grill"
    assert voices == {"Priya": "f2", "Stranger": "m3"}


def test_the_first_word_that_says_it_counts(tmp_path):
    story = _story(
        tmp_path,
        "kin.md",
        "---\ncharacters:\n  Asha: a girl in her father's coat\n  Ravi: a boy who follows his sister\n---\n\n"
        "They ran.\n",
    )
    assert _voices(story) == {"Asha": "f2", "Ravi": "m3"}


def test_characters_of_unknown_sex_alternate_and_voices_stay_distinct_while_there_are_enough(tmp_path):
    cast = "".join(f"  Woman{n}: a woman\n" for n in range(5)) + "  Kit: a cook\n  Lou: a baker\n"
    voices = voices_for(_story(tmp_path, "cast.md", f"---\ncharacters:\n{cast}---\n\nThey cooked.\n"))
    female = [v for v in VOICE_VARIANTS if v.startswith("f")]
    assert voices[:4] == female and voices[4] in female  # a fifth woman shares a voice
    assert voices[5:] == ["m3", "m1"]  # the next unused voices of the alternating list
