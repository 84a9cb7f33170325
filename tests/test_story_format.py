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
