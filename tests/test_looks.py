"""A character's storyboard look, read from their description."""

from filmgen_dagster.domain import CharacterLook
from filmgen_dagster.looks import CHILD_STATURE, TALL_STATURE, character_look


def test_the_examples_characters():
    assert character_look("a ten-year-old girl with a yellow raincoat and a red scarf") == CharacterLook(
        stature=CHILD_STATURE, coat="yellow", scarf="red"
    )
    assert character_look("a tall lighthouse keeper with a white beard and a blue cap") == CharacterLook(
        stature=TALL_STATURE, hat="blue", beard="white"
    )


def test_a_colour_may_stand_two_words_before_what_it_colours_but_never_across_and_or_with():
    assert character_look("a cook in a green silk sari, with long black hair") == CharacterLook(coat="green", hair="black")
    assert character_look("in a navy blue cardigan") == CharacterLook(coat="navy")
    # The raincoat's colour is not given: red belongs to the scarf only.
    assert character_look("a red scarf and raincoat") == CharacterLook(scarf="red")
    assert character_look("a red-haired boy") == CharacterLook()  # "red-haired" is not "red hair"


def test_what_is_not_described_is_left_to_the_storyboard():
    assert character_look("") == CharacterLook()
    assert character_look("a clockmaker who is never seen without her tools") == CharacterLook()
    assert character_look("a little boy").stature == CHILD_STATURE and character_look("a boy").stature == 1.0
