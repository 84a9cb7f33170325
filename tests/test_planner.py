import re

from conftest import EXAMPLES
from filmgen_dagster.backends.rules_planner import MAX_SHOT_S, MIN_SHOT_S, RuleBasedPlanner, detect_mood
from filmgen_dagster.domain import Framing, Mood, Place, Setting, TimeOfDay, Weather
from filmgen_dagster.keys import film_of_shot, slugify
from filmgen_dagster.story_format import load_story


def plan(name, languages=None):
    story = load_story(EXAMPLES / name, languages)
    return RuleBasedPlanner().plan(story, slugify(story.title), 24, 1280, 720)


def test_every_example_plans_valid_shots():
    for name in ("tide-clock.md", "paper-boat.txt", "night-market.fountain"):
        film = plan(name)
        assert film.shots
        for shot in film.shots:
            assert MIN_SHOT_S <= shot.planned_duration_s <= MAX_SHOT_S
            assert film_of_shot(shot.key) == film.film_key
            assert not re.search(r"[,|/\[\] ]", shot.key)


def test_framing_varies_and_scenes_open_wide():
    film = plan("tide-clock.md")
    assert all(scene.shots[0].framing == Framing.wide for scene in film.scenes)
    assert len({shot.framing for shot in film.shots}) == 3


def test_hindi_follows_its_paragraph_and_characters_are_found():
    film = plan("tide-clock.md")
    first = film.shots[0]
    assert first.narration["hi"][0].text.startswith("एक धूसर सुबह")
    assert "Mira" in first.characters
    # "Tomas" alone names "Old Tomas".
    assert "Old Tomas" in film.scenes[1].shots[1].characters


def test_a_shot_that_says_he_or_she_keeps_the_previous_shots_characters(tmp_path):
    film = plan("tide-clock.md")
    # '"It does not count the hours," he said.' follows Old Tomas winding the clock: he is in frame.
    assert film.scenes[0].shots[2].characters == ["Old Tomas"]
    # A shot without a name or a pronoun shows nobody ("That night a storm broke over the sea ...").
    assert film.scenes[1].shots[0].characters == []
    path = tmp_path / "scenes.md"
    path.write_text(
        "---\ncharacters: {Asha: a girl}\n---\n# One\n\nAsha ran.\n\n# Two\n\nShe stopped at the gate.\n"
    )
    story = load_story(path)
    two = RuleBasedPlanner().plan(story, "scenes", 24, 1280, 720).scenes[1]
    assert two.shots[0].characters == []  # a new scene starts with nobody carried over


def test_each_scene_has_the_time_weather_and_places_its_text_names(tmp_path):
    tide = plan("tide-clock.md").scenes
    # "...the hundred steps of the old lighthouse ... It counts the tides."
    assert tide[0].setting == Setting(time_of_day=TimeOfDay.day, places=[Place.tower, Place.water])
    # "That night a storm broke over the sea"
    assert tide[1].setting == Setting(time_of_day=TimeOfDay.night, weather=Weather.storm, places=[Place.water])
    market = plan("night-market.fountain").scenes
    assert market[0].setting == Setting(time_of_day=TimeOfDay.night, places=[Place.town])
    # INT. is inside; "- LATER" keeps the night of the scene before.
    assert market[1].setting == Setting(time_of_day=TimeOfDay.night, places=[Place.interior])
    path = tmp_path / "plain.txt"
    path.write_text("Waiting\n\nAsha waited.\n\n***\n\nAsha waited again.\n")
    story = load_story(path)
    assert [s.setting for s in RuleBasedPlanner().plan(story, "plain", 24, 1280, 720).scenes] == [Setting()] * 2


def test_only_a_screenplays_later_or_continuous_keeps_the_time_of_day(tmp_path):
    path = tmp_path / "times.fountain"
    path.write_text(
        "EXT. BEACH - DUSK\n\nWaves roll in.\n\nINT. HUT - CONTINUOUS\n\nA fire crackles.\n\n"
        "EXT. ROAD\n\nA truck passes.\n"
    )
    scenes = RuleBasedPlanner().plan(load_story(path), "times", 24, 1280, 720).scenes
    assert [scene.setting.time_of_day for scene in scenes] == [TimeOfDay.dusk, TimeOfDay.dusk, None]
    assert scenes[0].setting.places == [Place.water] and scenes[1].setting.places == [Place.interior]


def test_long_paragraph_splits_into_shots_of_at_most_ten_seconds(tmp_path):
    sentence = "The wind carried the sound of the bells across the quiet harbour at dawn."
    path = tmp_path / "long.txt"
    path.write_text(" ".join([sentence] * 12) + "\n")
    story = load_story(path)
    film = RuleBasedPlanner().plan(story, "long", 24, 1280, 720)
    assert len(film.shots) >= 4
    assert all(shot.planned_duration_s <= MAX_SHOT_S for shot in film.shots)
    spoken = " ".join(line.text for shot in film.shots for line in shot.narration["en"])
    assert spoken == " ".join([sentence] * 12)


def test_dialogue_is_attributed_to_its_speaker():
    film = plan("night-market.fountain")
    lines = [line for shot in film.shots for line in shot.narration["en"]]
    assert [line.speaker for line in lines] == ["Priya", "Stranger", "Priya"]


def test_mood_from_words():
    assert detect_mood("A storm broke and the wind began to shake the walls") == Mood.tense
    assert detect_mood("She laughed in the bright sun") == Mood.joyful
    assert detect_mood("Nothing in particular") == Mood.calm
