from __future__ import annotations

import random

import pytest

from filmgen_dagster.subtitles import LINE_CHARS, Cue, cues_for_span, split_for_subtitles, to_srt, to_vtt

LONG_EN = (
    "The tide came in slowly that night, over the old stones of the harbour wall, swallowing the boats one by one; "
    "nobody in the village said a word. Then the clock struck twelve."
)
LONG_HI = (
    "समुद्र की लहरें धीरे-धीरे किनारे की ओर बढ़ रही थीं और पुराना घंटाघर बारह बार बजा। "
    "गाँव के लोग अपने घरों से बाहर निकल आए और आसमान की ओर देखने लगे। किसी ने कुछ नहीं कहा।"
)


def test_short_text_is_one_cue():
    assert split_for_subtitles("  The tide  came in. ") == ["The tide came in."]
    assert split_for_subtitles("   ") == []


def test_chunks_fit_and_keep_every_word():
    for text in (LONG_EN, LONG_HI):
        chunks = split_for_subtitles(text)
        assert all(len(c) <= 84 for c in chunks)
        assert all(c.count("\n") <= 1 for c in chunks)
        assert " ".join(c.replace("\n", " ") for c in chunks).split() == text.split()


def test_sentences_and_clauses_are_the_break_points():
    chunks = [c.replace("\n", " ") for c in split_for_subtitles(LONG_EN)]
    assert chunks[-1] == "Then the clock struck twelve."
    assert all(c[-1] in ",;." for c in chunks)  # every break falls after punctuation here


def test_hindi_splits_at_danda():
    chunks = [c.replace("\n", " ") for c in split_for_subtitles(LONG_HI)]
    assert len(chunks) == 3 and all(c.endswith("।") for c in chunks)


def test_words_are_the_last_resort_and_long_words_stay_whole():
    words = " ".join(["lighthouse"] * 30)
    chunks = split_for_subtitles(words, max_chars=40)
    assert all(len(c) <= 40 for c in chunks) and len(chunks) > 1
    giant = "x" * 100
    assert split_for_subtitles(f"a {giant} b", max_chars=40) == ["a", giant, "b"]


def test_lines_wrap_at_about_half():
    chunk = split_for_subtitles("The tide came in slowly that night over the old stones of the wall.")[0]
    first, second = chunk.split("\n")
    assert max(len(first), len(second)) <= 42


def test_a_break_after_punctuation_is_preferred_only_among_breaks_that_fit():
    # The comma wins over a space nearer the middle where both lines fit ...
    assert split_for_subtitles("At the top of the tower, Old Tomas wound the brass clock slowly.") == [
        "At the top of the tower,\nOld Tomas wound the brass clock slowly."
    ]
    # ... but not where its line would be too long (44 characters; 47 in Devanagari).
    assert split_for_subtitles("The tide came in over the old harbour walls, and the clock ticked on.") == [
        "The tide came in over the old harbour\nwalls, and the clock ticked on."
    ]
    assert split_for_subtitles("मीरा ने प्रकाशस्तंभ की सीढ़ियों पर लालटेन उठाई, और तूफ़ान धीरे-धीरे थम गया।") == [
        "मीरा ने प्रकाशस्तंभ की सीढ़ियों पर\nलालटेन उठाई, और तूफ़ान धीरे-धीरे थम गया।"
    ]


def test_a_chunk_that_no_break_fits_in_two_lines_becomes_more_cues_timed_by_their_length():
    # Breaking after "again," gives a 51-character line, anywhere else a line of 43 or more: two cues.
    text = "Old Tomas slowly wound the heavy brass clock again, until the hands moved once more."
    assert split_for_subtitles(text) == [
        "Old Tomas slowly wound the\nheavy brass clock again,",
        "until the hands moved once more.",
    ]
    hindi = "प्रकाशस्तंभ की सबसे ऊँची सीढ़ी पर खड़ी मीरा ने अपनी लालटेन उठाई, और समुद्र शांत हुआ।"
    assert split_for_subtitles(hindi) == [
        "प्रकाशस्तंभ की सबसे ऊँची सीढ़ी पर\nखड़ी मीरा ने अपनी लालटेन उठाई,",
        "और समुद्र शांत हुआ।",
    ]
    first, second = cues_for_span(text, 2.0, 8.4)
    assert (first.text, second.text) == tuple(split_for_subtitles(text))
    assert (first.end_s - first.start_s) / (second.end_s - second.start_s) == pytest.approx(
        len(first.text) / len(second.text)
    )


def test_no_line_is_longer_than_the_limit_whenever_the_words_allow():
    rng = random.Random(7)
    vocabularies = (
        "the tide came in slowly over old harbour stones, lighthouse keeper Mira clock; again Tomas wound brass",
        "समुद्र की लहरें धीरे-धीरे किनारे, पुराना घंटाघर बारह प्रकाशस्तंभ लालटेन; मीरा तोमास चाबी घुमाई",
    )
    for vocabulary in vocabularies:
        words = vocabulary.split()
        for _ in range(300):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) + "."
            chunks = split_for_subtitles(text)
            lines = [line for chunk in chunks for line in chunk.split("\n")]
            assert all(len(line) <= LINE_CHARS for line in lines), chunks
            assert all(chunk.count("\n") <= 1 for chunk in chunks)
            assert " ".join(lines).split() == text.split()
    # A word longer than a line stays whole, on its own.
    assert split_for_subtitles(f"a {'x' * 50} b") == ["a", "x" * 50, "b"]


def test_cues_tile_the_span_in_proportion():
    cues = cues_for_span(LONG_EN, 12.5, 14.0)
    assert cues[0].start_s == 12.5 and cues[-1].end_s == pytest.approx(26.5)
    for a, b in zip(cues, cues[1:]):
        assert a.end_s == pytest.approx(b.start_s)  # back to back: no gaps, no overlaps
    assert all(c.end_s - c.start_s >= 0.8 - 1e-9 for c in cues)
    longest = max(cues, key=lambda c: len(c.text))
    assert longest.end_s - longest.start_s == max(c.end_s - c.start_s for c in cues)


def test_short_cues_get_the_minimum():
    cues = cues_for_span("Yes. " + "The tide came in over the old stones of the harbour wall, all night long.", 0, 4)
    assert cues[0].end_s - cues[0].start_s == pytest.approx(0.8)
    assert cues[-1].end_s == pytest.approx(4)


def test_too_short_a_span_is_shared_equally():
    cues = cues_for_span("One. Two. Three.", 1.0, 1.5)
    assert [round(c.end_s - c.start_s, 6) for c in cues] == [0.5, 0.5, 0.5]


def test_empty_inputs():
    assert cues_for_span("", 0, 5) == [] and cues_for_span("Hi.", 0, 0) == []
    assert to_srt([]) == "" and to_vtt([]) == "WEBVTT\n\n"


def test_srt_format():
    cues = [Cue(start_s=1.0, end_s=2.5, text="A <b> & c"), Cue(start_s=3661.0024, end_s=3662.9999, text="two\nlines")]
    assert to_srt(cues) == (
        "1\n00:00:01,000 --> 00:00:02,500\nA ‹b› & c\n\n"
        "2\n01:01:01,002 --> 01:01:03,000\ntwo\nlines\n\n"
    )


def test_vtt_format_and_escaping():
    cues = [Cue(start_s=0.0, end_s=1.25, text="<i>fish</i> & chips --> go")]
    assert to_vtt(cues) == "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\n&lt;i&gt;fish&lt;/i&gt; &amp; chips --&gt; go\n\n"


def test_blank_lines_cannot_end_a_cue_early():
    assert to_srt([Cue(start_s=0, end_s=1, text="a\n\nb")]) == "1\n00:00:00,000 --> 00:00:01,000\na\nb\n\n"
