"""Offline speech with the espeak-ng command-line synthesiser: robotic, but instant and available everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from filmgen_dagster.audio import read_wav
from filmgen_dagster.backends.base import SAMPLE_RATE

# Distinct espeak-ng variants (``espeak-ng --voices=variant``), alternating male and female so that
# characters assigned in order sound different from their neighbours.
VOICE_VARIANTS: list[str] = ["m3", "f2", "m1", "f4", "m7", "f3", "m2", "f5"]

_LANGUAGE_VOICES = {"en": "en-us", "hi": "hi"}
_TRIM_THRESHOLD = 10 ** (-50 / 20)  # espeak pads with digital silence, so a low fixed threshold is enough
_KEEP_S = 0.05


@lru_cache(maxsize=1)
def _espeak() -> tuple[str, str, frozenset[str]]:
    """(executable path, version, installed variant names), looked up once per process."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed; install it with `apt-get install espeak-ng` (Debian/Ubuntu) "
            "or `brew install espeak-ng` (macOS) to use the espeak speech backend."
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    listing = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = frozenset(re.findall(r"!v/(\S+)", listing))
    return exe, match.group(1) if match else out.strip(), variants


def _trim(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > _TRIM_THRESHOLD)
    if len(loud) == 0:
        return np.zeros(0, np.float32)
    keep = round(_KEEP_S * SAMPLE_RATE)
    return samples[max(0, loud[0] - keep) : loud[-1] + 1 + keep]


class EspeakSpeech:
    backend_id = "espeak-ng"

    def __init__(self, words_per_minute: int = 160, pitch: int = 50) -> None:
        # espeak-ng silently clamps values outside these ranges; a typo should not change the film.
        if not isinstance(words_per_minute, int) or not 80 <= words_per_minute <= 450:
            raise ValueError(f"words_per_minute must be a whole number from 80 to 450, got {words_per_minute!r}")
        if not isinstance(pitch, int) or not 0 <= pitch <= 99:
            raise ValueError(f"pitch must be a whole number from 0 to 99, got {pitch!r}")
        self._exe, version, self._variants = _espeak()
        self.model_id = f"espeak-ng {version}"
        self.words_per_minute = words_per_minute
        self.pitch = pitch

    def synthesize(
        self, text: str, language: str, voice: str | None = None, speaker: str | None = None
    ) -> np.ndarray:
        if not text.strip():
            return np.zeros(0, np.float32)
        if language not in _LANGUAGE_VOICES:
            raise ValueError(f"espeak backend speaks {sorted(_LANGUAGE_VOICES)}, not {language!r}")
        name = _LANGUAGE_VOICES[language]
        if voice:
            variant = voice.removeprefix("+")
            # espeak-ng silently falls back to the default voice for an unknown variant; fail loudly instead.
            if variant not in self._variants:
                raise ValueError(f"espeak-ng has no voice variant {voice!r}; see `espeak-ng --voices=variant`")
            name = f"{name}+{variant}"
        with tempfile.TemporaryDirectory(prefix="filmgen-espeak-") as tmp:
            wav = Path(tmp) / "speech.wav"
            # Text goes through stdin, so a leading '-' or quotes can never be read as options.
            cmd = [self._exe, "-v", name, "-s", str(self.words_per_minute), "-p", str(self.pitch), "-w", str(wav)]
            result = subprocess.run([*cmd, "--stdin"], input=text.encode("utf-8"), capture_output=True, timeout=300)
            if result.returncode != 0 or not wav.exists():
                error = result.stderr.decode(errors="replace").strip()
                raise RuntimeError(f"espeak-ng failed (exit {result.returncode}): {error}")
            return _trim(read_wav(wav)).astype(np.float32)
