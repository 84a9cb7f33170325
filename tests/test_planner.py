import re

from conftest import EXAMPLES
from filmgen_dagster.backends.rules_planner import (
    MAX_SHOT_S,
    MIN_SHOT_S,
    RuleBasedPlanner,
    detect_mood,
    shot_extras,
    quotation_speakers,
    shot_props,
    spoken_seconds,
    split_sentences,
    voiced_lines,
)
from filmgen_dagster.domain import (
    CameraMove,
    Extra,
    Framing,
    Mood,
    NarrationLine,
    Place,
    Prop,
    Setting,
    ShotProp,
    StyleBible,
    TimeOfDay,
    Weather,
)
from filmgen_dagster.keys import film_of_shot, slugify
from filmgen_dagster.prompts import build_shot_prompt, load_styles
from filmgen_dagster.story_format import load_story


def plan(name, languages=None):
    story = load_story(EXAMPLES / name, languages)
    return RuleBasedPlanner().plan(story, slugify(story.title), 24, 1280, 720)


def plan_written(path, text):
    """The plan of a story written to ``path`` (its stem is the film key)."""
    path.write_text(text, encoding="utf-8")
    return RuleBasedPlanner().plan(load_story(path), path.stem, 24, 1280, 720)


def test_every_example_plans_valid_shots():
    for name in ("tide-clock.md", "paper-boat.txt", "night-market.fountain", "baarish-ki-naav.md"):
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
    two = plan_written(
        tmp_path / "scenes.md",
        "---\ncharacters: {Asha: a girl}\n---\n# One\n\nAsha ran.\n\n# Two\n\nShe stopped at the gate.\n",
    ).scenes[1]
    assert two.shots[0].characters == []  # a new scene starts with nobody carried over
    # Prose names its people too: "Arun folded a paper boat ...", then "He set it on the street ...".
    assert [shot.characters for shot in plan("paper-boat.txt").shots] == [["Arun"], ["Arun"], [], [], []]


def props_of(shot) -> list[tuple[str, str | None]]:
    return [(prop.kind.value, prop.held_by) for prop in shot.props]


def test_each_shot_has_the_props_its_text_names_held_by_whoever_holds_them():
    tide = plan("tide-clock.md").scenes
    assert props_of(tide[0].shots[1]) == [("clock", None)]  # "Old Tomas was winding a brass clock"
    # "Mira held the lantern while Tomas turned the great key against the wind."
    assert props_of(tide[1].shots[1]) == [("lantern", "Mira"), ("key", "Old Tomas")]
    assert props_of(tide[2].shots[1]) == []  # "Mira smiled. Now she knew how to keep the sea on time."
    # "Lanterns sway above crowded stalls. PRIYA, a young cook ..., fans the coals": nobody holds them.
    assert props_of(plan("night-market.fountain").shots[0]) == [("lantern", None)]
    assert [p.held_by for p in shot_props("She lifted the lantern.", ["Mira"], [])] == ["Mira"]
    assert [p.held_by for p in shot_props("The lantern swung. Mira ran.", ["Mira"], [])] == [None]
    # Whole words only: no clock in "watched", no car in "scarf" or "cartoon", no owl in "bowl".
    assert shot_props("She watched the cartoon in her scarf, holding a bowl.", ["Mira"], []) == []


def test_a_shot_that_says_it_keeps_the_previous_shots_first_prop_across_scene_cuts():
    boat = plan("paper-boat.txt").shots
    assert props_of(boat[0]) == [("boat", None), ("book", "Arun")]  # "Arun folded a paper boat ... notebook."
    # "He set it on the rain-filled street and watched it race past the tea stall, the bicycles and the dog."
    assert props_of(boat[1]) == [("boat", None), ("bicycle", None), ("dog", None)]
    assert boat[1].props[0].carried and not boat[0].props[0].carried
    # Scene 3: "Then it came out into the sunlight, spinning, and a little girl caught it and laughed."
    assert props_of(boat[4]) == [("boat", None)] and boat[4].props[0].carried
    # Without "it" nothing is carried; a carried prop keeps its holder only if the holder is in the shot.
    held = [ShotProp(kind=Prop.lantern, held_by="Mira")]
    assert shot_props("The wind rose.", ["Mira"], held) == []
    assert shot_props("She raised it.", ["Mira"], held)[0].held_by == "Mira"
    assert shot_props("It swung.", [], held)[0].held_by is None


def test_people_a_shot_shows_without_a_name_are_found_and_characters_are_not_found_twice():
    # "Then it came out into the sunlight, spinning, and a little girl caught it and laughed."
    assert plan("paper-boat.txt").shots[4].extras == [Extra(label="little girl", description="a little girl")]
    # "A STRANGER, a tall man in a grey coat, watches from the shadows.": the man is the Stranger.
    assert all(not shot.extras for shot in plan("night-market.fountain").shots)
    text = "An old fisherman waves to the man's son and a little girl in a red dress. The woman laughs at the girl."
    assert shot_extras(text, {"Mira": "a ten-year-old girl"}) == [
        Extra(label="old fisherman", description="An old fisherman"),
        Extra(label="woman", description="The woman"),
    ]
    assert [extra.description for extra in shot_extras(text, {})][1] == "a little girl in a red dress"
    assert shot_extras("A snowman and the postman stood by the manger.", {}) == []
    # A group is drawn as three: "the villagers", "a crowd of children".
    groups = shot_extras("The villagers gathered while a crowd of children ran.", {})
    assert [(extra.label, extra.count) for extra in groups] == [("villagers", 3), ("children", 3)]


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
    plain = plan_written(tmp_path / "plain.txt", "Waiting\n\nAsha waited.\n\n***\n\nAsha waited again.\n")
    assert [s.setting for s in plain.scenes] == [Setting()] * 2


def test_only_a_screenplays_later_or_continuous_keeps_the_time_of_day(tmp_path):
    scenes = plan_written(
        tmp_path / "times.fountain",
        "EXT. BEACH - DUSK\n\nWaves roll in.\n\nINT. HUT - CONTINUOUS\n\nA fire crackles.\n\n"
        "EXT. ROAD\n\nA truck passes.\n",
    ).scenes
    assert [scene.setting.time_of_day for scene in scenes] == [TimeOfDay.dusk, TimeOfDay.dusk, None]
    assert scenes[0].setting.places == [Place.water] and scenes[1].setting.places == [Place.interior]


def test_long_paragraph_splits_into_shots_of_at_most_ten_seconds(tmp_path):
    sentence = "The wind carried the sound of the bells across the quiet harbour at dawn."
    film = plan_written(tmp_path / "long.txt", " ".join([sentence] * 12) + "\n")
    assert len(film.shots) >= 4
    assert all(shot.planned_duration_s <= MAX_SHOT_S for shot in film.shots)
    spoken = " ".join(line.text for shot in film.shots for line in shot.narration["en"])
    assert spoken == " ".join([sentence] * 12)


# 64 words without a full stop: 25.6 s of speech.
LONG_SENTENCE = (
    "Old Tomas climbed the hundred steps of the lighthouse with the brass key in his pocket, and as the wind "
    "howled against the glass and the sea threw itself at the rocks below, he wound the great clock slowly "
    "and carefully while Mira held the lantern high above his head so that he could see every tooth of every "
    "gear turning in the dark."
)
LONG_SENTENCE_HI = (
    "बूढ़े तोमास जेब में पीतल की चाबी लिए प्रकाशस्तंभ की सौ सीढ़ियाँ चढ़े, और जब हवा काँच से टकराकर गरजी और "
    "समुद्र नीचे चट्टानों पर पछाड़ खाता रहा, उन्होंने बड़ी घड़ी में धीरे-धीरे और सावधानी से चाबी भरी, जबकि मीरा "
    "ने लालटेन उनके सिर के ऊपर ऊँची थामी ताकि वे अँधेरे में हर पहिये का हर दाँत घूमता देख सकें।"
)


def spoken(shot, language="en"):
    return " ".join(line.text for line in shot.narration.get(language, []))


def test_a_sentence_too_long_for_one_shot_is_cut_at_its_clauses_into_consecutive_shots(tmp_path):
    film = plan_written(
        tmp_path / "long.md",
        f"# One\n\nMira ran up.\n\n[continuous] {LONG_SENTENCE}\n[hi] {LONG_SENTENCE_HI}\n\nMira smiled.\n",
    )
    shots = film.shots
    for shot in shots:
        assert spoken_seconds(spoken(shot)) <= MAX_SHOT_S and spoken_seconds(spoken(shot, "hi")) <= MAX_SHOT_S
        assert MIN_SHOT_S <= shot.planned_duration_s <= MAX_SHOT_S
    pieces = shots[1:-1]
    # At its commas where one falls near the target length (6 s), between words where none does.
    assert [spoken(shot) for shot in pieces] == [
        "Old Tomas climbed the hundred steps of the lighthouse with the brass key in his pocket,",
        "and as the wind howled against the glass and the sea threw itself at the rocks below,",
        "he wound the great clock slowly and carefully while Mira held the lantern high above",
        "his head so that he could see every tooth of every gear turning in the dark.",
    ]
    assert [shot.visual for shot in pieces] == [spoken(shot) for shot in pieces]
    # The Hindi goes with them in order, some to each, cut at its own commas.
    assert " ".join(spoken(shot, "hi") for shot in pieces) == LONG_SENTENCE_HI
    assert [spoken(shot, "hi").split()[-1] for shot in pieces] == ["चढ़े,", "रहा,", "भरी,", "सकें।"]
    # One scene, keys of their own, and only the first piece picks up where the shot before ends.
    assert {shot.scene_number for shot in shots} == {1} and len({shot.key for shot in shots}) == len(shots)
    assert [shot.continues_previous for shot in shots] == [False, True, False, False, False, False]
    # Cut inside a quotation, each half is still said in its speaker's voice.
    quoted = plan_written(
        tmp_path / "quoted.md",
        "---\ncharacters: {Old Tomas: a keeper}\n---\n# One\n\n"
        '"Keep the lantern high and do not let the wind take the flame, whatever the sea does tonight and however '
        'loud the storm grows against the glass," Old Tomas said as they climbed the steps of the lighthouse.\n',
    )
    assert [[(line.speaker, line.text.split()[-1]) for line in shot.narration["en"]] for shot in quoted.shots] == [
        [("Old Tomas", "flame,")],
        [("Old Tomas", 'glass,"')],
        [(None, "lighthouse.")],
    ]


LONG_DIALOGUE = """Title: The Keeper

EXT. HARBOUR - NIGHT

TOMAS
I have wound this clock every night for forty years, through storms that tore the roofs off the village and \
winters so cold the harbour froze, and I will wind it tonight, and tomorrow, and every night after that until \
these old hands can no longer turn the key.
[hi] मैंने चालीस साल तक हर रात यह घड़ी चलाई है, उन तूफ़ानों में भी जिन्होंने गाँव की छतें उड़ा दीं और उन सर्दियों \
में भी जब बंदरगाह जम गया, और मैं आज रात भी चलाऊँगा, और कल भी, और उसके बाद हर रात, जब तक ये बूढ़े हाथ चाबी घुमा सकें।
"""


def test_a_long_line_of_dialogue_is_spoken_over_consecutive_shots_by_its_speaker(tmp_path):
    film = plan_written(tmp_path / "keeper.fountain", LONG_DIALOGUE)
    shots = film.shots
    assert len(shots) == 3 and {shot.scene_number for shot in shots} == {1}
    assert len({shot.key for shot in shots}) == 3
    for shot in shots:
        assert spoken_seconds(spoken(shot)) <= MAX_SHOT_S and MIN_SHOT_S <= shot.planned_duration_s <= MAX_SHOT_S
        assert (shot.visual, shot.characters) == ("Tomas speaks", ["Tomas"])
        assert [line.speaker for language in ("en", "hi") for line in shot.narration[language]] == ["Tomas"] * 2
    line = load_story(tmp_path / "keeper.fountain").scenes[0].blocks[0]
    assert " ".join(spoken(shot) for shot in shots) == line.text
    assert " ".join(spoken(shot, "hi") for shot in shots) == line.hindi
    assert [spoken(shot).split()[-1] for shot in shots] == ["years,", "tonight,", "key."]
    assert [spoken(shot, "hi").split()[-1] for shot in shots] == ["है,", "चलाऊँगा,", "सकें।"]


def test_camera_moves_follow_the_framing_never_repeat_and_all_occur(tmp_path):
    tide = plan("tide-clock.md")
    assert [shot.camera.value for shot in tide.shots] == [
        "pan_right", "push_in", "tilt_down", "pull_out", "tilt_down", "pan_left", "tilt_up"
    ]
    paragraphs = "\n\n".join(f"Mira walked to stall number {n} and looked at the lanterns there." for n in range(9))
    long = plan_written(tmp_path / "market.md", "".join(f"# Scene {n}\n\n{paragraphs}\n\n" for n in range(3)))
    for film in (tide, long):
        assert {shot.camera for shot in film.shots} == set(CameraMove)
        assert all(a.camera != b.camera for a, b in zip(film.shots, film.shots[1:]))
        # A close-up draws nearer, slides down or draws back; it never pans.
        assert {s.camera for s in film.shots if s.framing == Framing.close} <= {
            CameraMove.push_in, CameraMove.tilt_down, CameraMove.pull_out
        }
    assert [shot.camera for shot in plan("tide-clock.md").shots] == [shot.camera for shot in tide.shots]


def test_a_continuation_never_reverses_the_move_it_picks_up_from(tmp_path):
    film = plan_written(
        tmp_path / "relay.md",
        "# Track\n\nA runner takes the baton.\n\n# Tunnel\n\n[continuous] She bursts into the tunnel.\n\n"
        "[continuous] Her footsteps echo.\n\nThe coach smiles.\n",
    )
    shots = film.shots
    assert [shot.continues_previous for shot in shots] == [False, True, True, False]
    # The medium shot's first move would be a push-in, back into the pull-out it continues.
    assert [shot.camera.value for shot in shots] == ["pan_right", "pull_out", "tilt_down", "push_in"]


def test_dialogue_is_attributed_to_its_speaker():
    film = plan("night-market.fountain")
    lines = [line for shot in film.shots for line in shot.narration["en"]]
    assert [line.speaker for line in lines] == ["Priya", "Stranger", "Priya"]


def test_mood_from_words():
    assert detect_mood("A storm broke and the wind began to shake the walls") == Mood.tense
    assert detect_mood("She laughed in the bright sun") == Mood.joyful
    assert detect_mood("Nothing in particular") == Mood.calm


def lines_of(text, names, present):
    return [(line.text, line.speaker) for line in voiced_lines(text, quotation_speakers(text, names, present))]


def test_a_quotation_is_spoken_by_whoever_the_text_says_speaks_it():
    film = plan("tide-clock.md")
    # '"It does not count the hours," he said. "It counts the tides."' after Old Tomas winds the clock.
    shot = film.scenes[0].shots[2]
    assert [(line.text, line.speaker) for line in shot.narration["en"]] == [
        ('"It does not count the hours,"', "Old Tomas"),
        ("he said.", None),
        ('"It counts the tides."', "Old Tomas"),  # no clause of its own: the same speaker goes on
    ]
    assert " ".join(line.text for line in shot.narration["en"]) == shot.visual  # the subtitles' text
    # The Hindi has as many quotations: the same people say them.
    assert [(line.text, line.speaker) for line in shot.narration["hi"]] == [
        ('"यह घंटे नहीं गिनती,"', "Old Tomas"),
        ("उन्होंने कहा।", None),
        ('"यह ज्वार गिनती है।"', "Old Tomas"),
    ]
    assert voiced_lines("उसने कहा, चलो।", ["Mira"]) == [NarrationLine(text="उसने कहा, चलो।")]  # none there
    bible = StyleBible(film_key=film.film_key, style=load_styles()["watercolor"], base_seed=1, characters=[])
    assert build_shot_prompt(film, shot, bible).speakers == ["Old Tomas"]  # the storyboard's balloon
    names = ["Tomas", "Mira"]
    assert lines_of('Mira whispered, "Look," and pointed.', names, ["Mira"]) == [
        ("Mira whispered,", None), ('"Look,"', "Mira"), ("and pointed.", None)
    ]
    assert lines_of("“Run,” Mira told Tomas. “Now.”", names, names) == [
        ("“Run,”", "Mira"), ("Mira told Tomas.", None), ("“Now.”", "Mira")
    ]
    # The clause ends where the sentence does, not at a title.
    assert lines_of('"Hi," said Mrs. Rao. "Bye."', ["Mrs. Rao", "Mira"], ["Mrs. Rao", "Mira"]) == [
        ('"Hi,"', "Mrs. Rao"), ("said Mrs. Rao.", None), ('"Bye."', "Mrs. Rao")
    ]
    # Nobody given ("she" with two in frame), no verb of speech, or an unbalanced quote: the narrator's.
    for text in ('"Go," she said.', 'The sign read "Closed". Mira sighed.', 'He said "wait'):
        assert lines_of(text, names, names) == [(text, None)]


def test_a_story_told_in_hindi_has_hindi_narration_and_its_speakers(tmp_path):
    film = plan_written(
        tmp_path / "nav.md",
        "---\ncharacters:\n  सीता: a girl in a yellow raincoat\n  अरुण: a boy\n---\n# पहला दृश्य\n\n"
        '"रुको!" सीता ने कहा। "कहाँ?" अरुण ने पूछा।\n\nवह नाव के पीछे भागी।\n',
    )
    assert film.languages == ["hi"]
    first, second = film.shots
    assert list(first.narration) == ["hi"] and list(second.narration) == ["hi"]
    assert [(line.text, line.speaker) for line in first.narration["hi"]] == [
        ('"रुको!"', "सीता"), ("सीता ने कहा।", None), ('"कहाँ?"', "अरुण"), ("अरुण ने पूछा।", None)
    ]
    assert first.planned_duration_s > MIN_SHOT_S  # timed by its Hindi, as an English shot by its English
    assert second.characters == ["सीता", "अरुण"]  # "वह" (she) keeps the shot before's people
    bible = StyleBible(film_key=film.film_key, style=load_styles()["watercolor"], base_seed=1, characters=[])
    assert build_shot_prompt(film, first, bible).speakers == ["सीता", "अरुण"]
    # "उसने कहा" (he/she said) with one character in frame; "कहाँ" (where) is not "कहा" (said); a name
    # that ends in a vowel sign is found, and not inside a longer name.
    assert lines_of('"चलो।" उसने कहा।', ["सीता"], ["सीता"]) == [('"चलो।"', "सीता"), ("उसने कहा।", None)]
    assert lines_of('"चलो।" कहाँ?', ["सीता"], ["सीता"]) == [('"चलो।" कहाँ?', None)]
    assert lines_of('"चलो।" सीताराम ने कहा।', ["सीता"], ["सीता"]) == [('"चलो।" सीताराम ने कहा।', None)]
    # The same reading in English: a capital after the quotation does not end its clause.
    assert lines_of('"Wait!" Mira said.', ["Mira"], ["Mira"]) == [('"Wait!"', "Mira"), ("Mira said.", None)]


def test_a_hindi_story_s_words_set_its_scene_props_and_mood(tmp_path):
    film = plan_written(
        tmp_path / "rain.md",
        "---\ncharacters:\n  सीता: a girl\n---\n# पहला दृश्य\n\n"
        "रात को तूफ़ान आया और बारिश होने लगी। सीता डर गई, पर उसने अपनी नाव नदी में रखी। उसने छाता खोला।\n",
    )
    scene = film.scenes[0]
    assert (scene.setting.time_of_day, scene.setting.weather) == (TimeOfDay.night, Weather.storm)
    assert scene.setting.places == [Place.water] and scene.mood == Mood.tense
    # The boat on the river; the umbrella in her hand: "उसने" (she) with only her in frame.
    props = [(p.kind, p.held_by) for shot in film.shots for p in shot.props]
    assert props == [(Prop.boat, None), (Prop.umbrella, "सीता")]
    # Whole words: "रोटी" (bread) is not "रो" (cry), "कहाँ" (where) not "कहा" (said); plural forms count.
    assert detect_mood("उसने रोटी खाई।") == Mood.calm and detect_mood("वह अकेली रोई।") == Mood.sad
    assert shot_props("नावें पानी में थीं।", [], []) == [ShotProp(kind=Prop.boat)]


def test_weather_that_its_own_clause_calls_over_does_not_set_the_scene(tmp_path):
    # "शाम को बारिश थम गई" (in the evening the rain stopped): the river at dusk, not in the rain.
    baarish = plan("baarish-ki-naav.md").scenes
    assert [scene.setting.weather for scene in baarish] == [Weather.rain, None]
    scenes = plan_written(
        tmp_path / "after.md",
        "# One\n\nBy dawn the storm had passed. Mira walked to the shore.\n\n"
        "# Two\n\nThe fog lifted, but the rain went on.\n\n"
        "# तीन\n\n\"बारिश में रुको,\" दादी ने कहा।\n",
    ).scenes
    # Only the verb's completed form ends it: "रुको" (stay) in the rain is still rain.
    assert [scene.setting.weather for scene in scenes] == [None, Weather.rain, Weather.rain]


def test_sentences_keep_their_closing_quotes_and_titles():
    text = '"Faster!" shouted Asha. "The wind is going!" Mrs. Rao smiled… Dr. Das did not.'
    assert split_sentences(text) == [
        '"Faster!" shouted Asha.',  # a lower-case word after "!" goes on with the sentence
        '"The wind is going!"',  # the closing quote stays with its sentence
        "Mrs. Rao smiled…",  # no sentence ends at a title
        "Dr. Das did not.",
    ]
