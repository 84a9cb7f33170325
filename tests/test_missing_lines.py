"""Which story lines the narration report lists as having no text in a language (silent in its track)."""

from pathlib import Path

from conftest import EXAMPLES
from filmgen_dagster.assets.narration import _untold
from filmgen_dagster.assets.scene_plan import _translate_missing
from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.story_format import load_story

# One shot: Priya's line in both languages, Sita's (line 12) in Hindi alone.
WAIT = (
    "Title: Wait\n\nINT. KITCHEN - NIGHT\n\nPRIYA, a young cook, fans the coals.\n\n"
    "PRIYA\nThe rain is coming.\n[hi] बारिश आ रही है।\n\n@सीता\nरुको!\n"
)


class _Marked:
    """A translator that marks what it translated."""

    def can_translate(self, source: str, target: str) -> bool:
        return True

    def translate(self, texts: list[str], source: str, target: str) -> list[str]:
        return [f"({target}) {text}" for text in texts]


def _plan(path: Path):
    return RuleBasedPlanner().plan(load_story(path), "f", 12, 320, 180)


def test_a_line_is_listed_though_its_shot_speaks_other_lines_in_that_language(tmp_path):
    story = tmp_path / "wait.fountain"
    story.write_text(WAIT, encoding="utf-8")
    shots = _plan(story).shots
    assert len(shots) == 1
    assert (_untold(shots, "en"), _untold(shots, "hi")) == (["line 12: रुको!"], [])


def test_machine_translated_lines_tell_the_story_lines_they_translate():
    plan = _plan(EXAMPLES / "night-market.fountain")
    assert _untold(plan.shots, "hi") == [
        "line 15: I have been looking for this smell for twenty years.",
        "line 22: Then stay for one more.",
    ]
    _translate_missing(plan, _Marked())
    assert _untold(plan.shots, "hi") == _untold(plan.shots, "en") == []
    translated = [line for shot in plan.shots for line in shot.narration["hi"] if line.machine_translated]
    assert {line.line for line in translated} >= {15, 22}
