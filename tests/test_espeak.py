from __future__ import annotations


import numpy as np
import pytest

from filmgen_dagster.audio import active_ratio, duration_s
from filmgen_dagster.backends.base import SAMPLE_RATE, SpeechBackend

TWELVE_WORDS = "The old clock tower rang twelve times as the tide reached the harbour."
HINDI = "पुरानी घड़ी ने बारह बार घंटी बजाई और ज्वार बंदरगाह तक पहुँच गया।"


@pytest.fixture(scope="module")
def speech():
    from filmgen_dagster.backends.espeak import EspeakSpeech

    return EspeakSpeech()


def centroid(x: np.ndarray) -> float:
    mag = np.abs(np.fft.rfft(x))
    return float(np.sum(mag * np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)) / np.sum(mag))


def test_identity(speech):
    assert isinstance(speech, SpeechBackend)
    assert speech.backend_id == "espeak-ng"
    assert speech.model_id.startswith("espeak-ng ") and len(speech.model_id) > len("espeak-ng ")


def test_english_sentence_is_speech_of_plausible_length(speech):
    x = speech.synthesize(TWELVE_WORDS, "en")
    assert x.dtype == np.float32 and x.ndim == 1
    assert 2.0 <= duration_s(x) <= 6.0
    assert active_ratio(x) > 0.6
    assert np.max(np.abs(x)) <= 1.0


def test_hindi_sentence_is_speech(speech):
    x = speech.synthesize(HINDI, "hi")
    assert 2.0 <= duration_s(x) <= 7.0
    assert active_ratio(x) > 0.6


def test_silence_is_trimmed(speech):
    x = speech.synthesize(TWELVE_WORDS, "en")
    edge = round(0.1 * SAMPLE_RATE)
    assert np.max(np.abs(x[:edge])) > 0.01 and np.max(np.abs(x[-edge:])) > 0.01


def test_longer_text_is_longer(speech):
    short = speech.synthesize("The tide came in.", "en")
    long = speech.synthesize("The tide came in. " * 4, "en")
    assert duration_s(long) > 3 * duration_s(short)


def test_rate_option_changes_length():
    from filmgen_dagster.backends.espeak import EspeakSpeech

    slow = EspeakSpeech(words_per_minute=120).synthesize(TWELVE_WORDS, "en")
    fast = EspeakSpeech(words_per_minute=220).synthesize(TWELVE_WORDS, "en")
    assert duration_s(slow) > 1.4 * duration_s(fast)


def test_voice_variants_are_distinct(speech):
    from filmgen_dagster.backends.espeak import VOICE_VARIANTS

    takes = {v: speech.synthesize(TWELVE_WORDS, "en", v) for v in VOICE_VARIANTS}
    assert all(active_ratio(x) > 0.6 for x in takes.values())
    signatures = {(len(x), round(centroid(x))) for x in takes.values()}
    assert len(signatures) == len(VOICE_VARIANTS)
    default = speech.synthesize(TWELVE_WORDS, "en")
    assert not any(len(x) == len(default) and np.allclose(x, default) for x in takes.values())
    assert active_ratio(speech.synthesize(HINDI, "hi", "f2")) > 0.6


def test_awkward_text_is_spoken_not_parsed_as_options(speech):
    x = speech.synthesize('-v "quoted" text; with $HOME and \'quotes\' -w /tmp/nope.wav', "en")
    assert duration_s(x) > 2.0 and active_ratio(x) > 0.5


def test_empty_text_and_bad_arguments(speech):
    assert len(speech.synthesize("   \n", "en")) == 0
    with pytest.raises(ValueError):
        speech.synthesize("hello", "fr")
    with pytest.raises(ValueError):
        speech.synthesize("hello", "en", "no-such-variant")


def test_missing_espeak_says_how_to_install(monkeypatch, tmp_path):
    from filmgen_dagster.backends import espeak

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: espeak-ng cannot be found
    espeak._espeak.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="apt-get install espeak-ng.*brew install espeak-ng"):
            espeak.EspeakSpeech()
    finally:
        espeak._espeak.cache_clear()
