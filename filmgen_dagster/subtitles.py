"""Subtitle cues from narration text and its span on the timeline, written as SRT and WebVTT."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel

LINE_CHARS = 42  # the usual broadcast limit per subtitle line; a cue holds at most two
MIN_CUE_S = 0.8  # shorter cues flash by before they can be read

# The space after a sentence end.
SENTENCE_END = re.compile(
    r"(?:(?<=[.!?…।॥])|(?<=[.!?…।॥][\"'”’)\]]))"  # its closing quote or bracket stays with it
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)"  # "Mrs. Rao" goes on
    r"\s+(?![\sa-z])"  # so does '"Faster!" shouted Asha.'
)
CLAUSE_MARKS = ",;:—–।॥"
# The space after a clause end; its closing quote or bracket stays with it.
CLAUSE_END = re.compile(rf"(?:(?<=[{CLAUSE_MARKS}])|(?<=[{CLAUSE_MARKS}][\"'”’)\]]))\s+")
# How many characters further from the middle a line break after a clause end may fall than one inside it.
CLAUSE_BREAK_BONUS = 8


class Cue(BaseModel):
    start_s: float
    end_s: float
    text: str


def _pack(pieces: list[str], fits: Callable[[str], bool]) -> list[str]:
    """Greedily join consecutive pieces with spaces while the result still ``fits``."""
    chunks: list[str] = []
    for piece in pieces:
        if chunks and fits(f"{chunks[-1]} {piece}"):
            chunks[-1] += " " + piece
        else:
            chunks.append(piece)
    return chunks


def _wrap(chunk: str, line_chars: int) -> str:
    """Break a chunk longer than one line into two near its middle, at a space that leaves both lines at most
    ``line_chars`` long, preferring a space after a clause end; where no space does (a word longer than a
    line), at the one that leaves the longest line shortest."""
    if len(chunk) <= line_chars:
        return chunk
    spaces = [i for i, c in enumerate(chunk) if c == " "]
    if not spaces:
        return chunk

    def badness(i: int) -> tuple[int, float]:
        overflow = max(0, i - line_chars, len(chunk) - i - 1 - line_chars)
        bonus = CLAUSE_BREAK_BONUS if CLAUSE_END.match(chunk, i) else 0
        return overflow, abs(i - len(chunk) / 2) - bonus

    cut = min(spaces, key=badness)
    return f"{chunk[:cut]}\n{chunk[cut + 1:]}"


def split_for_subtitles(text: str, max_chars: int = 2 * LINE_CHARS) -> list[str]:
    """Chunks of at most ``max_chars``, wrapped to at most two lines of at most LINE_CHARS (a single
    longer word stays whole, alone).

    Sentences are never merged; a sentence too long for one cue splits at clauses, then at words.
    """

    def fits(chunk: str) -> bool:
        return len(chunk) <= max_chars and all(len(line) <= LINE_CHARS for line in _wrap(chunk, LINE_CHARS).split("\n"))

    chunks: list[str] = []
    for sentence in SENTENCE_END.split(" ".join(text.split())):
        if not sentence:
            continue
        if fits(sentence):
            chunks.append(sentence)
            continue
        for clause in _pack(CLAUSE_END.split(sentence), fits):
            chunks += [clause] if fits(clause) else _pack(clause.split(" "), fits)
    return [_wrap(chunk, LINE_CHARS) for chunk in chunks]


def cues_for_span(text: str, start_s: float, duration_s: float) -> list[Cue]:
    """Cues that tile [start_s, start_s + duration_s] back to back, each lasting in proportion to its length."""
    chunks = split_for_subtitles(text)
    if not chunks or duration_s <= 0:
        return []
    weights = [float(len(c)) for c in chunks]
    if MIN_CUE_S * len(chunks) >= duration_s:
        lengths = [duration_s / len(chunks)] * len(chunks)  # no room for the minimum: share equally
    else:
        # Pin short cues to the minimum and share what is left among the others, until nothing changes.
        pinned: set[int] = set()
        while True:
            free = duration_s - MIN_CUE_S * len(pinned)
            free_weight = sum(w for i, w in enumerate(weights) if i not in pinned)
            lengths = [MIN_CUE_S if i in pinned else free * w / free_weight for i, w in enumerate(weights)]
            short = {i for i, length in enumerate(lengths) if length < MIN_CUE_S}
            if short <= pinned:
                break
            pinned |= short
    cues, t = [], start_s
    for i, (chunk, length) in enumerate(zip(chunks, lengths)):
        end = start_s + duration_s if i == len(chunks) - 1 else t + length  # no drift at the end
        cues.append(Cue(start_s=t, end_s=end, text=chunk))
        t = end
    return cues


def _timestamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _body(text: str) -> str:
    # A blank line ends a cue in both formats, so one inside the text would truncate it.
    return "\n".join(line for line in text.splitlines() if line.strip())


def to_srt(cues: list[Cue]) -> str:
    # Players and ffmpeg's mov_text conversion read <...> in SRT as markup; show brackets as text.
    def literal(text: str) -> str:
        return text.replace("<", "‹").replace(">", "›")

    return "".join(
        f"{n}\n{_timestamp(c.start_s, ',')} --> {_timestamp(c.end_s, ',')}\n{literal(_body(c.text))}\n\n"
        for n, c in enumerate(cues, start=1)
    )


def to_vtt(cues: list[Cue]) -> str:
    def escape(text: str) -> str:  # VTT reads <...> as tags and & as entities; this also defuses "-->"
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    return "WEBVTT\n\n" + "".join(
        f"{_timestamp(c.start_s, '.')} --> {_timestamp(c.end_s, '.')}\n{escape(_body(c.text))}\n\n" for c in cues
    )
