from pathlib import Path

import pytest

from conftest import EXAMPLES
from filmgen_dagster.errors import StoryError
from filmgen_dagster.story_format import load_story


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_txt_title_paragraphs_and_scene_breaks(tmp_path):
    story = load_story(write(tmp_path, "x.txt", "The Title\n\nOne.\nStill one.\n\nTwo.\n\n***\n\nThree.\n"))
    assert story.title == "The Title"
    assert [[b.text for b in s.blocks] for s in story.scenes] == [["One. Still one.", "Two."], ["Three."]]
    assert story.languages == ["en"]


def test_txt_long_first_line_is_not_a_title(tmp_path):
    first = "This opening line is far too long to be a title because it goes on and on and on for ages."
    story = load_story(write(tmp_path, "my_story.txt", f"{first}\n\nNext.\n"))
    assert story.title == "My Story"
    assert story.scenes[0].blocks[0].text == first


def test_txt_without_breaks_groups_paragraphs_into_scenes(tmp_path):
    text = "Seven\n\n" + "\n\n".join(f"Paragraph {i}." for i in range(7))
    assert [len(s.blocks) for s in load_story(write(tmp_path, "x.txt", text)).scenes] == [3, 3, 1]


def test_markdown_front_matter_headings_and_hindi(tmp_path):
    story = load_story(EXAMPLES / "tide-clock.md")
    assert story.title == "The Tide Clock" and story.style == "watercolor"
    assert story.languages == ["en", "hi"]
    assert story.characters["Mira"].startswith("a ten-year-old girl")
    assert [s.heading for s in story.scenes] == ["The Lighthouse", "The Storm", "Morning"]
    first = story.scenes[0].blocks[0]
    assert first.text.startswith("On a grey morning") and first.hindi.startswith("एक धूसर सुबह")
    assert all(b.hindi for s in story.scenes for b in s.blocks)


def test_markdown_bom_crlf_and_control_characters(tmp_path):
    path = tmp_path / "x.md"
    path.write_bytes("\ufeff---\r\ntitle: Hi\r\n---\r\n\r\n# A\r\n\r\nText\x07 here.\r\n".encode())
    story = load_story(path)
    assert story.title == "Hi"
    assert story.scenes[0].blocks[0].text == "Text here."


def test_fountain_sluglines_action_and_dialogue():
    story = load_story(EXAMPLES / "night-market.fountain")
    assert story.title == "The Night Market"
    assert [s.heading for s in story.scenes] == ["EXT. NIGHT MARKET - NIGHT", "INT. PRIYA'S KITCHEN - LATER"]
    kinds = [(b.kind, b.speaker) for b in story.scenes[0].blocks]
    assert kinds == [("action", None), ("dialogue", "Priya"), ("action", None), ("dialogue", "Stranger")]
    assert story.scenes[0].blocks[1].hindi == "दो प्लेटें और, फिर हम बंद कर सकते हैं।"
    assert "(quietly)" not in story.scenes[0].blocks[3].text
    # "PRIYA, a young cook in a green apron, fans the coals": a screenplay's introduction describes her.
    assert story.characters == {"Priya": "a young cook in a green apron", "Stranger": "a tall man in a grey coat"}


def test_a_screenplay_introduces_characters_in_capitals_with_their_description(tmp_path):
    story = load_story(
        write(
            tmp_path,
            "intro.fountain",
            "EXT. PIER - DAWN\n\nOLD MARCUS (70s), a retired sailor in a blue coat, mends a net. Gulls.\n\n"
            "MARCUS sees ASHA.\n\nASHA\nMorning.\n",
        )
    )
    # Marcus never speaks but is introduced; Asha speaks without an introduction; the first one counts.
    assert story.characters == {"Asha": "", "Old Marcus": "a retired sailor in a blue coat"}
    # Introduced by full name, cued by first name: one character, under the cue's name.
    story = load_story(
        write(tmp_path, "cue.fountain", "INT. WARD - NIGHT\n\nEMILY CHEN, a surgeon in a green gown, waits.\n\nEMILY\nNext.\n")
    )
    assert story.characters == {"Emily": "a surgeon in a green gown"}


def test_forced_cues_name_speakers_written_without_capitals(tmp_path):
    # Fountain's "@" cue: a screenplay in Hindi (no capitals to mark a cue), and a mixed-case name, each
    # with its extension in brackets, which is not part of the name.
    story = load_story(
        write(
            tmp_path,
            "naav.fountain",
            "EXT. गली - दिन\n\nसीता नाव पानी में रखती है।\n\n@सीता\nदेखो, दादी!\n\n"
            "@दादी (मुस्कुराते हुए)\nहर नाव अपना रास्ता ढूँढ लेती है।\n\n@McCLANE (V.O.)\nYippee.\n",
        )
    )
    dialogue = [(b.speaker, b.language) for b in story.scenes[0].blocks if b.kind == "dialogue"]
    assert dialogue == [("सीता", "hi"), ("दादी", "hi"), ("McCLANE", "en")]
    assert set(story.characters) == {"सीता", "दादी", "McCLANE"}


def test_prose_names_its_characters_by_what_they_do_say_and_are(tmp_path):
    # "Arun folded a paper boat ...": prose has no cast list; its people are the names that act.
    assert load_story(EXAMPLES / "paper-boat.txt").characters == {"Arun": ""}
    text = (
        "Rain fell on the city. Night came.\n\nThen Mira, a girl in a yellow raincoat, ran to the gate. "
        '"Wait!" said Old Tomas. Tomas smiled. Everyone laughed. Birds sang, and a bird flew off.\n\n'
        "They took the train across Kerala. Kerala watched. Hope smiled, though hope was thin. "
        "Arun and Priya quietly cooked. On Monday Priya\u2019s hands shook. Children laughed. Mrs. Rao sighed. "
        "James ate jam."
    )
    # Named by an introduction ("Mira, a girl"), by speech ("said Old Tomas"), by a person's verb ("Arun
    # and Priya quietly cooked"); the longest form of a name counts; described if introduced.
    expected = {
        "Mira": "a girl in a yellow raincoat", "Old Tomas": "", "Arun": "", "Priya": "", "Mrs. Rao": "", "James": ""
    }
    assert load_story(write(tmp_path, "x.txt", f"Gate\n\n{text}")).characters == expected
    # A Markdown story without a cast list is read the same way; one with a cast list keeps it as written.
    assert load_story(write(tmp_path, "x.md", f"# Gate\n\n{text}")).characters == expected
    cast = load_story(write(tmp_path, "y.md", f"---\ncharacters:\n  Mira: a girl\n---\n\n{text}"))
    assert cast.characters == {"Mira": "a girl"}


def test_prose_keeps_its_six_most_named_people(tmp_path):
    names = ["Asha", "Bela", "Chen", "Dev", "Esha", "Farid", "Gita"]
    text = " ".join(f"{name} smiled." * (1 if name == "Bela" else 2) for name in names)
    assert list(load_story(write(tmp_path, "x.txt", f"Seven\n\n{text}")).characters) == [
        n for n in names if n != "Bela"
    ]


def test_languages_override(tmp_path):
    story = load_story(EXAMPLES / "tide-clock.md", ["en"])
    assert story.languages == ["en"]


def test_a_story_told_in_hindi_is_narrated_in_hindi_by_default(tmp_path):
    hindi = load_story(write(tmp_path, "h.md", "# पहला दृश्य\n\nसीता ने कागज़ की नाव बनाई।\n\nवह हँसी।\n"))
    assert hindi.languages == ["hi"]
    assert [b.language for s in hindi.scenes for b in s.blocks] == ["hi", "hi"]
    # Told in both, or in English with [hi] lines: both tracks; in English alone: English.
    both = load_story(write(tmp_path, "b.txt", "Two\n\nSita folded a boat.\n\nवह हँसी।\n"))
    assert both.languages == ["en", "hi"] and [b.language for b in both.scenes[0].blocks] == ["en", "hi"]
    assert load_story(EXAMPLES / "tide-clock.md").languages == ["en", "hi"]
    assert load_story(EXAMPLES / "paper-boat.txt").languages == ["en"]
    # With no cast list, a Hindi story's people are who do something to something ("सीता ने ..."); not a
    # pronoun ("उसने"), a girl without a name ("लड़की ने") or the wind ("हवा ने").
    assert hindi.characters == {"सीता": ""}
    told = load_story(write(tmp_path, "t.txt", "नाव\n\nलड़की ने देखा। हवा ने दरवाज़ा खोला। उसने कहा। दादी ने कहा।\n"))
    assert told.characters == {"दादी": ""}
    # A Hindi name or word in English prose leaves it English.
    assert load_story(write(tmp_path, "e.txt", "One\n\nSita sailed her नाव down the lane.\n")).languages == ["en"]


def test_story_hash_changes_with_content(tmp_path):
    a = load_story(write(tmp_path, "a.txt", "One.\n"))
    b = load_story(write(tmp_path, "b.txt", "Two.\n"))
    assert a.story_hash != b.story_hash


def test_error_names_the_file(tmp_path):
    with pytest.raises(StoryError, match=r"^story empty\.md: is empty"):
        load_story(write(tmp_path, "empty.md", ""))


def scenes_of(story) -> list[tuple[str, list[str]]]:
    return [(scene.heading, [block.text for block in scene.blocks]) for scene in story.scenes]


def test_txt_one_paragraph_ending_in_blank_lines_is_the_story_not_its_title(tmp_path):
    for text in ("Mira lit the lamp and smiled at the sea.\n\n", "Hello\n\n\n"):
        story = load_story(write(tmp_path, "lamp.txt", text))
        assert (story.title, scenes_of(story)) == ("Lamp", [("Scene 1", [text.strip()])])


def test_markdown_headings_start_scenes_wherever_they_are(tmp_path):
    def parse(text: str) -> list[tuple[str, list[str]]]:
        return scenes_of(load_story(write(tmp_path, "h.md", text)))

    assert parse("# One\nMira walked.\n# Two\nTomas ran.\n") == [("One", ["Mira walked."]), ("Two", ["Tomas ran."])]
    # Lines before a heading in its paragraph stay with the scene before.
    assert parse("Some intro.\n# Heading\nMore.") == [("Scene 1", ["Some intro."]), ("Heading", ["More."])]
    assert parse("# A\n# B\nText.") == [("B", ["Text."])]
    assert parse("## Dawn ##\n\nText.\n\n# C#\n\nMore.") == [("Dawn", ["Text."]), ("C#", ["More."])]
    # Without a space after it, "#" is prose (CommonMark), as are seven of them.
    assert parse("#MeToo was trending.\n\n####### Not a heading.") == [
        ("Scene 1", ["#MeToo was trending.", "####### Not a heading."])
    ]
    # Setext headings: a line underlined with "=" or "-".
    assert parse("Dawn\n====\nThe sun rose.\n\nDusk\n----\n\nIt set.") == [
        ("Dawn", ["The sun rose."]), ("Dusk", ["It set."])
    ]  # fmt: skip
    # Line numbers still point at each paragraph's first line.
    story = load_story(write(tmp_path, "n.md", "Intro.\n# Heading\nMore.\nStill more."))
    assert [b.line for s in story.scenes for b in s.blocks] == [1, 3]


def test_markdown_thematic_breaks_start_untitled_scenes(tmp_path):
    story = load_story(write(tmp_path, "b.md", "# A\n\nOne.\n\n---\n\nTwo.\n\n***\n\nThree.\n\n___\n\nFour.\n"))
    assert scenes_of(story) == [("A", ["One."]), ("Scene 2", ["Two."]), ("Scene 3", ["Three."]), ("Scene 4", ["Four."])]


def test_markdown_front_matter_may_open_with_trailing_spaces(tmp_path):
    for opening in ("--- ", "---\t"):
        story = load_story(write(tmp_path, "f.md", f"{opening}\ntitle: X\n---\nBody.\n"))
        assert (story.title, scenes_of(story)) == ("X", [("Scene 1", ["Body."])])
        assert story.scenes[0].blocks[0].line == 4


def test_a_hindi_line_with_nothing_before_it_to_translate_is_rejected(tmp_path):
    for name, text, line in (
        ("a.md", "# A\n\n[hi] नमस्ते दुनिया\n\nEnglish para.\n", 3),
        ("b.md", "# A\n\nEnglish.\n\n# B\n[hi] नमस्ते\n", 6),
        ("c.txt", "Title\n\nPara.\n\n***\n[hi] नमस्ते\n", 6),
        ("d.fountain", "EXT. ROAD - DAY\n\nA car passes.\n\nINT. CAR - DAY\n\n[hi] नमस्ते\n", 7),
    ):
        with pytest.raises(StoryError, match=rf"^story {name}: line {line}: \[hi\] has no paragraph before it"):
            load_story(write(tmp_path, name, text))
    # A cue's dialogue of [hi] lines alone has nothing to translate either.
    script = "EXT. ROAD - DAY\n\nA car passes.\n\nMIRA\n(softly)\n[hi] नमस्ते\n"
    with pytest.raises(StoryError, match=r"^story g\.fountain: line 7: Mira's dialogue has only \[hi\] lines; put"):
        load_story(write(tmp_path, "g.fountain", script))
    # Inside or right after its paragraph it is that paragraph's Hindi, in a screenplay's action too.
    story = load_story(write(tmp_path, "e.md", "# A\n\nEnglish.\n[hi] नमस्ते\n\n[hi] दुनिया\n"))
    assert story.scenes[0].blocks[0].hindi == "नमस्ते दुनिया"
    story = load_story(write(tmp_path, "f.fountain", "EXT. ROAD - DAY\n\nA car passes.\n[hi] एक कार।\n"))
    assert story.scenes[0].blocks[0].hindi == "एक कार।"


def test_fountain_transitions_sections_notes_and_boneyard_are_no_shots(tmp_path):
    script = (
        "FADE IN:\n\nEXT. BEACH - NIGHT #1A#\n\nWaves crash. [[louder?]] Gulls.\n\n/* A cut scene\n\n"
        "still boneyard */\n\n# Act Two\n\n= Mira finds the boat.\n\nMira runs.\n\nCUT TO:\n\n"
        "INT. HUT - NIGHT #2#\n\n> A storm. <\n\n> FADE OUT.\n\nFADE TO BLACK.\n\nCUT TO BLACK.\n\n"
        ">THE END<\n\nTHE END\n"
    )
    story = load_story(write(tmp_path, "s.fountain", script))
    assert scenes_of(story) == [
        ("EXT. BEACH - NIGHT", ["Waves crash. Gulls.", "Mira runs."]),
        ("INT. HUT - NIGHT", ["A storm."]),
    ]
    assert [b.line for s in story.scenes for b in s.blocks] == [5, 15, 21]


def test_fountain_cues_with_extensions_in_any_case_and_capitals_of_any_script(tmp_path):
    # A Devanagari name has no capitals: it needs the forced cue ("@सीता").
    script = "EXT. PIER - DAY\n\nHANS (on the radio)\nCome in.\n\nMIRA (cont'd)\nHere.\n\nZOË ^\nYes.\n\nसीता\nनहीं।\n"
    blocks = [b for s in load_story(write(tmp_path, "c.fountain", script)).scenes for b in s.blocks]
    assert [(b.kind, b.speaker) for b in blocks] == [
        ("dialogue", "Hans"), ("dialogue", "Mira"), ("dialogue", "Zoë"), ("action", None)
    ]  # fmt: skip


def test_fountain_title_page_starts_only_with_a_title_page_key(tmp_path):
    script = "Midnight: the boat sinks slowly.\nMira watches from the shore.\n\nEXT. BEACH - NIGHT\n\nWaves crash.\n"
    story = load_story(write(tmp_path, "midnight.fountain", script))
    assert story.title == "Midnight"
    assert story.scenes[0].blocks[0].text == "Midnight: the boat sinks slowly. Mira watches from the shore."
    # A value may go on in indented lines; Fountain's emphasis is not part of the title.
    script = "Title:\n    _**BRICK & STEEL**_\n    *FULL RETIRED*\nAuthor: Stu Maschwitz\n\nEXT. YARD - DAY\n\nRain.\n"
    story = load_story(write(tmp_path, "b.fountain", script))
    assert (story.title, scenes_of(story)) == ("BRICK & STEEL FULL RETIRED", [("EXT. YARD - DAY", ["Rain."])])


def test_invisible_characters_are_dropped_and_zero_width_joiners_kept(tmp_path):
    with pytest.raises(StoryError, match=r"^story z\.txt: is empty"):
        load_story(write(tmp_path, "z.txt", "\u200b\n\u200b\n\u2060\ufeff\n"))
    story = load_story(write(tmp_path, "k.txt", "Title\n\nA\u200bB\u2060C\ufeffD क्\u200dष र\u200cा\n"))
    assert story.scenes[0].blocks[0].text == "ABCD क्\u200dष र\u200cा"


def test_front_matter_values_must_be_text(tmp_path):
    for field, front in (
        ("title", "title: [a, b]"),
        ("style", "style: [noir]"),
        ("music", "music: {piano: soft}"),
        ("characters.Mira", "characters: {Mira: [yellow coat]}"),
    ):
        with pytest.raises(StoryError, match=rf"^story f\.md: front matter field '{field}' must be text"):
            load_story(write(tmp_path, "f.md", f"---\n{front}\n---\n\nText.\n"))
    story = load_story(write(tmp_path, "n.md", "---\ntitle: 1984\ncharacters: {Mira: 7}\nmusic: 3\n---\n\nText.\n"))
    assert (story.title, story.characters, story.music) == ("1984", {"Mira": "7"}, "3")


@pytest.mark.timeout(20)
def test_lines_of_many_spaces_parse_in_linear_time(tmp_path):
    # Cue, forced cue, heading, centred text and scene number regexes once backtracked in cubic time on these.
    spaces = " " * 20_000
    script = f"EXT. A{spaces}x #1#\n\nA{spaces}b\nc\n\n@A{spaces}b\nc\n\n> a{spaces}b <\n"
    assert len(load_story(write(tmp_path, "s.fountain", script)).scenes[0].blocks) == 3
    assert load_story(write(tmp_path, "h.md", f"# a{spaces}b\n\nText.\n")).scenes[0].heading == "a b"


def test_a_continuation_mark_anywhere_but_the_start_of_a_paragraph_is_rejected(tmp_path):
    """Mid-line the mark would be spoken and subtitled; on a dialogue line it sits inside its cue's paragraph."""
    for name, text, line in (
        ("mid.txt", "Home\n\nMira left the market.\n\nMira walked home. [continuous] She ran.\n", 5),
        ("twice.md", "# One\n\nA door opens.\n\n[continuous] A hand. [CONTINUOUS] A wrist.\n", 5),
        ("heading.md", "# One [continuous]\n\nA door opens.\n", 1),
        ("said.fountain", "INT. HALL - DAY\n\nA door opens.\n\nPRIYA\n[continuous] Hello there.\n", 6),
    ):
        with pytest.raises(StoryError) as error:
            load_story(write(tmp_path, name, text))
        assert str(error.value) == (
            f"story {name}: line {line}: [continuous] must start a narration or action paragraph"
        )


def test_character_names_that_differ_only_in_width_are_rejected_as_twins(tmp_path):
    front = "---\ncharacters:\n  Mira: a girl\n  Ｍｉｒａ: another girl\n---\n"
    story = write(tmp_path, "w.md", f"{front}\nMira waves.\n")
    with pytest.raises(StoryError, match="characters 'Mira' and 'Ｍｉｒａ' differ only in case, width or spacing"):
        load_story(story)
