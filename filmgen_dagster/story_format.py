"""Read a story file (.txt, .md with YAML front matter, .fountain) into a validated ``Story``.

Every problem a user can cause raises ``StoryError`` with one sentence naming the file and the fix.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import unicodedata
from pathlib import Path

import yaml
from pydantic import ValidationError

from filmgen_dagster.domain import Story, StoryBlock, StoryScene
from filmgen_dagster.errors import StoryError
from filmgen_dagster.people import named_people
from filmgen_dagster.prompts import load_styles

MAX_STORY_BYTES = 1_000_000
SUPPORTED_LANGUAGES = ("en", "hi")
FORMATS = {".txt": "txt", ".md": "md", ".markdown": "md", ".fountain": "fountain"}
_HINDI_LINE = re.compile(r"^\[hi\]\s*(.*)$", re.IGNORECASE)
_SCENE_BREAK = re.compile(r"^\s*(\*\s*\*\s*\*[\s*]*|-{3,}|#)\s*$")
# Zero-width spaces, word joiners and stray byte-order marks mean nothing to speech or subtitles (ZWJ and ZWNJ
# stay: Devanagari spells with them).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff"))
_FRONT_MATTER_OPENING = re.compile(r"---[ \t]*\n")
# YAML scalars that read as the text the user wrote; a list or mapping would be printed as Python.
_TEXT_VALUES = (str, int, float, datetime.date)
# Markdown (CommonMark) headings: 1-6 "#" then a space ("#MeToo" is prose); setext: a line underlined with = or -.
_ATX_OPENING = re.compile(r"#{1,6}(?=[ \t]|$)")
_SETEXT_UNDERLINE = re.compile(r"^(?:=+|-+)$")
_THEMATIC_BREAK = re.compile(r"^(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_SLUGLINE = re.compile(r"^(INT|EXT|EST|INT\./EXT|INT/EXT|I/E)[.\s]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"#[\w.\-]+#$")
_TITLE_PAGE_KEY = re.compile(
    r"^(?:title|credit|authors?|source|draft date|date|contact|copyright|notes|revision):", re.IGNORECASE
)
# A character cue's name: letters or digits of any script, spaces, ". ' -" ("O'BRIEN", "DR. RAO", "ZOË").
_CUE_NAME = re.compile(r"[^\W_](?:[^\W_]|[ .'\u2019-])*")
# A screenplay introduces a character in capitals, often with a description after a comma:
# "PRIYA, a young cook, fans the coals." (an age in brackets may come between). Names of at most four
# words keep the search linear in a long paragraph of capitals.
_INTRODUCTION = re.compile(
    r"\b(?P<name>[A-Z][A-Z'\-]+(?: [A-Z][A-Z'\-]+){0,3})(?: \([^)]*\))?, (?P<about>(?:an?|the) [^,.;:!?]+)"
)
# Transitions and end marks cut between shots and are no shot themselves; ">TEXT<" is centred action.
_TRANSITION = re.compile(r"^(?:[A-Z\s]+TO:|(?:FADE (?:IN|OUT)|(?:FADE|CUT) TO BLACK|THE END)[.:]?)$")
_BONEYARD_OR_NOTE = re.compile(r"/\*|\[\[")
# A paragraph starting with this continues the shot before it (its clip starts on that shot's last frame).
_CONTINUATION_MARK = re.compile(r"^\s*\[continuous\]\s*", re.IGNORECASE)
_ANY_CONTINUATION_MARK = re.compile(r"\[continuous\]", re.IGNORECASE)
_CONTINUOUS_SLUGLINE = re.compile(r"\bCONTINUOUS\s*$", re.IGNORECASE)
PARAGRAPHS_PER_SCENE = 3


def load_story(path: Path, languages: list[str] | None = None) -> Story:
    """Parse ``path``; ``languages`` (e.g. from the CLI) overrides the story's own choice."""
    name = path.name
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StoryError(
            f"story {name}: unsupported extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(FORMATS)}"
        )
    text = _read_text(path)
    front, body, body_line = _split_front_matter(text, name) if fmt == "md" else ({}, text, 1)
    if fmt == "fountain":
        title_page, body, body_line = _split_title_page(_without_boneyard_and_notes(body))
        front = {"title": title_page["title"]} if "title" in title_page else {}
    title = _front_text(front.get("title"), "title", name)
    if fmt == "txt":
        title, body, body_line = _title_from_first_line(body)
    body, marked = _strip_continuation_marks(body, body_line, name)
    scenes = {
        "txt": _parse_prose,
        "md": _parse_markdown,
        "fountain": _parse_fountain,
    }[fmt](body, body_line, name)
    scenes = [s for s in scenes if s.blocks]
    _mark_continuations(scenes, marked, name)
    if not scenes:
        raise StoryError(f"story {name}: no narration or action text found; write at least one paragraph")
    return _build_story(name, fmt, text, front, title or _title_from_name(path), scenes, languages)


def _read_text(path: Path) -> str:
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoryError(f"story {name}: cannot be read ({exc.strerror}); check the path") from None
    if not path.is_file():
        # A folder or a named pipe (reading one would block forever) is not a story.
        raise StoryError(f"story {name}: is not a regular file; give the path of a story file")
    if size > MAX_STORY_BYTES:
        raise StoryError(
            f"story {name}: {size:,} bytes is over the {MAX_STORY_BYTES:,}-byte limit; split it into several films"
        )
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise StoryError(f"story {name}: looks binary (contains NUL bytes); give a UTF-8 text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StoryError(
            f"story {name}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Control characters other than newline and tab would reach TTS, subtitles and drawing.
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    if not text.strip():
        raise StoryError(f"story {name}: is empty; write at least one paragraph")
    return text


def _strip_continuation_marks(body: str, first_line: int, name: str) -> tuple[str, set[int]]:
    """The body without ``[continuous]`` marks, and the line numbers that carried one."""
    lines = body.split("\n")
    marked = set()
    for index, line in enumerate(lines):
        if match := _CONTINUATION_MARK.match(line):
            if not line[match.end() :].strip():
                raise StoryError(
                    f"story {name}: line {first_line + index}: [continuous] stands alone; "
                    "put it at the start of the paragraph it marks"
                )
            marked.add(first_line + index)
            lines[index] = line[match.end() :]
        # Mid-line it would be read aloud and subtitled as words.
        if _ANY_CONTINUATION_MARK.search(lines[index]):
            raise StoryError(
                f"story {name}: line {first_line + index}: [continuous] must start a narration or action paragraph"
            )
    return "\n".join(lines), marked


def _mark_continuations(scenes: list[StoryScene], marked: set[int], name: str) -> None:
    blocks = {block.line: block for scene in scenes for block in scene.blocks}
    for line in sorted(marked):
        # A dialogue block starts on the line after its cue: a mark there sits inside the paragraph.
        if line not in blocks or blocks[line].kind == "dialogue":
            raise StoryError(
                f"story {name}: line {line}: [continuous] must start a narration or action paragraph"
            )
        blocks[line].continues = True


def _clean_inline(text: str) -> str:
    return " ".join(text.split())


def _front_text(value: object, field: str, name: str) -> str:
    """A front matter value as one line of text ("" when absent)."""
    if value is None:
        return ""
    if not isinstance(value, _TEXT_VALUES):
        raise StoryError(
            f"story {name}: front matter field {field!r} must be text; write one value, not a list or mapping"
        )
    return _clean_inline(str(value))


def _title_from_name(path: Path) -> str:
    return _clean_inline(path.stem.replace("_", " ").replace("-", " ")).title() or "Untitled"


class _AliasFound(yaml.YAMLError):
    def __init__(self, line: int) -> None:
        self.line = line


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a few lines of nested aliases expand to gigabytes once printed."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound(self.peek_event().start_mark.line)
        return super().compose_node(parent, index)


def _split_front_matter(text: str, name: str) -> tuple[dict, str, int]:
    opening = _FRONT_MATTER_OPENING.match(text)
    if not opening:
        return {}, text, 1
    # From the opening line's newline, so that an empty front matter ("---\n---") closes too.
    end = text.find("\n---", opening.end() - 1)
    if end == -1:
        raise StoryError(f"story {name}: front matter starts with '---' but never closes; add a closing '---' line")
    try:
        front = yaml.load(text[opening.end() : end], Loader=_FrontMatterLoader) or {}
    except _AliasFound as exc:
        raise StoryError(
            f"story {name}: front matter uses a YAML alias (*name) at line {exc.line + 2}; write the value out"
        ) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where else ""
        raise StoryError(f"story {name}: front matter is not valid YAML{line}; fix the YAML between the '---' lines") from None
    if not isinstance(front, dict):
        raise StoryError(f"story {name}: front matter must be a YAML mapping (key: value lines)")
    rest = text[end + 4 :]
    newline = rest.find("\n")
    body = rest[newline + 1 :] if newline != -1 else ""
    return front, body, text[: end + 4].count("\n") + 2


def _title_from_first_line(body: str) -> tuple[str, str, int]:
    lines = body.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    candidate = lines[first].strip()
    followed_by_blank = first + 1 < len(lines) and not lines[first + 1].strip()
    # A one-paragraph story is its own text, not a title, however many blank lines end it.
    text_follows = any(line.strip() for line in lines[first + 2 :])
    if len(candidate) <= 80 and followed_by_blank and text_follows:
        return _clean_inline(candidate.lstrip("#")), "\n".join(lines[first + 1 :]), first + 2
    return "", body, 1


def _paragraphs(body: str, first_line: int) -> list[tuple[int, list[str]]]:
    """Blank-line separated paragraphs as (1-based line number, stripped lines)."""
    paragraphs: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first_line
    for number, line in enumerate(body.split("\n"), start=first_line):
        if line.strip():
            if not current:
                start = number
            current.append(line.strip())
        elif current:
            paragraphs.append((start, current))
            current = []
    if current:
        paragraphs.append((start, current))
    return paragraphs


def _prose_blocks(paragraph: tuple[int, list[str]], blocks: list[StoryBlock], name: str) -> None:
    """Add a paragraph's narration, with its ``[hi]`` lines, or attach them to the paragraph before it."""
    line, lines = paragraph
    english = [ln for ln in lines if not _HINDI_LINE.match(ln)]
    if english:
        blocks.append(StoryBlock(kind="narration", text=_clean_inline(" ".join(english)), line=line))
    _attach_hindi(paragraph, blocks, name)


def _attach_hindi(paragraph: tuple[int, list[str]], blocks: list[StoryBlock], name: str) -> None:
    line, lines = paragraph
    hindi = [(offset, m[1]) for offset, ln in enumerate(lines) if (m := _HINDI_LINE.match(ln))]
    if not hindi:
        return
    if not blocks:
        raise StoryError(
            f"story {name}: line {line + hindi[0][0]}: [hi] has no paragraph before it in its scene; "
            "put it right after the paragraph it translates"
        )
    last = blocks[-1]
    last.hindi = _clean_inline(" ".join(([last.hindi] if last.hindi else []) + [text for _, text in hindi])) or None


def _parse_prose(body: str, first_line: int, name: str) -> list[StoryScene]:
    """Plain text: a ``***``/``---`` line starts a scene; otherwise every few paragraphs do."""
    scenes: list[StoryScene] = []
    blocks: list[StoryBlock] = []
    has_breaks = any(_SCENE_BREAK.match(line) for line in body.split("\n"))
    for paragraph in _paragraphs(body, first_line):
        if _SCENE_BREAK.match(paragraph[1][0]):
            scenes.append(StoryScene(heading=f"Scene {len(scenes) + 1}", blocks=blocks))
            blocks = []
            paragraph = (paragraph[0] + 1, paragraph[1][1:])
            if not paragraph[1]:
                continue
        if not has_breaks and len(blocks) == PARAGRAPHS_PER_SCENE and not _HINDI_LINE.match(paragraph[1][0]):
            scenes.append(StoryScene(heading=f"Scene {len(scenes) + 1}", blocks=blocks))
            blocks = []
        _prose_blocks(paragraph, blocks, name)
    scenes.append(StoryScene(heading=f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _parse_markdown(body: str, first_line: int, name: str) -> list[StoryScene]:
    """Headings start scenes wherever they are, thematic breaks start untitled ones; the rest is narration."""
    scenes: list[StoryScene] = []
    heading = ""
    blocks: list[StoryBlock] = []

    def start_scene(next_heading: str) -> None:
        nonlocal heading, blocks
        if blocks or heading:
            scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
        heading, blocks = next_heading, []

    for start, lines in _paragraphs(body, first_line):
        text_lines: list[str] = []  # the paragraph's lines since its last heading or break
        for number, text in enumerate(lines, start=start):
            if text_lines and _SETEXT_UNDERLINE.match(text):
                start_scene(_clean_inline(" ".join(text_lines)))
                text_lines = []
            elif (atx := _atx_heading(text)) is not None or _THEMATIC_BREAK.match(text):
                if text_lines:
                    _prose_blocks((number - len(text_lines), text_lines), blocks, name)
                start_scene(atx or "")
                text_lines = []
            else:
                text_lines.append(text)
        if text_lines:
            _prose_blocks((start + len(lines) - len(text_lines), text_lines), blocks, name)
    scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _atx_heading(line: str) -> str | None:
    """The text of an ATX heading line, without its closing "#"s ("## Dawn ##" is "Dawn", "# C#" is "C#")."""
    if not (opening := _ATX_OPENING.match(line)):
        return None
    text = line[opening.end() :].strip()
    unclosed = text.rstrip("#")
    return _clean_inline(unclosed if unclosed[-1:] in ("", " ", "\t") else text)


def _without_boneyard_and_notes(body: str) -> str:
    """Fountain's boneyard (``/* cut */``) and notes (``[[to self]]``) replaced by the newlines they span, so
    every line keeps its number; one never closed is left as written. A scan, not a regex: a lazy match from
    each of many unclosed openers would take quadratic time."""
    parts = []
    position = 0
    while opener := _BONEYARD_OR_NOTE.search(body, position):
        end = body.find("*/" if opener[0] == "/*" else "]]", opener.end())
        if end == -1:
            break
        parts += [body[position : opener.start()], "\n" * body.count("\n", opener.start(), end)]
        position = end + 2
    return "".join(parts) + body[position:]


def _split_title_page(body: str) -> tuple[dict[str, str], str, int]:
    """Fountain's title page: ``Key: value`` lines (a value may go on in indented lines) up to a blank line."""
    lines = body.split("\n")
    if not _TITLE_PAGE_KEY.match(lines[0]):
        return {}, body, 1
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    page: dict[str, str] = {}
    for line in lines[:end]:
        if line[:1] in (" ", "\t"):
            page[key] += " " + line
        else:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            page[key] = value
    # Values as plain text: without Fountain's emphasis (_underline_, *italics*, **bold**).
    plain = {key: _clean_inline(re.sub(r"[*_]", "", value)) for key, value in page.items()}
    return plain, "\n".join(lines[end:]), end + 1


def _without_markup(body: str) -> str:
    """Lines that are no shot blanked: transitions and end marks, forced ones (``> FADE OUT.``), sections
    (``# Act One``) and synopses (``= ...``); centred text (``>THE END<``) without its markers."""
    kept = []
    for line in body.split("\n"):
        text = line.strip()
        if text.startswith(">") and text.endswith("<"):
            text = line = text[1:-1].strip()
        kept.append("" if _TRANSITION.match(text) or text.startswith((">", "#", "=")) else line)
    return "\n".join(kept)


def _cue_name(line: str) -> str:
    """The name a character cue gives ("" if the line is none): a name in capitals, of any script ("ZOË"), with
    an extension in any case ("HANS (on the radio)") and "^" for dual dialogue; or Fountain's forced cue, for
    names not in capitals ("@McCLANE (V.O.)") or scripts without them ("@सीता"). Parsed, not matched by one
    regex: a lazy name followed by optional spaces backtracks in cubic time on a line of many spaces."""
    forced = line.startswith("@")
    name, bracket, extension = line.removeprefix("@").removesuffix("^").partition("(")
    name = _clean_inline(name)
    if bracket and not extension.rstrip().endswith(")"):
        return ""
    if forced:
        return name
    return name if _CUE_NAME.fullmatch(name) and name.isupper() else ""


def _parse_fountain(body: str, first_line: int, name: str) -> list[StoryScene]:
    """Sluglines start scenes; action paragraphs become shots; cue + dialogue become narration."""
    scenes: list[StoryScene] = []
    heading = ""
    blocks: list[StoryBlock] = []
    # A "... - CONTINUOUS" slugline: the scene's first shot continues the last shot before it.
    continuous = False
    for line, lines in _paragraphs(_without_markup(body), first_line):
        if continuous and blocks:
            blocks[0].continues, continuous = True, False
        head = lines[0]
        if _SLUGLINE.match(head) or (head.startswith(".") and not head.startswith("..")):
            if blocks or heading:
                scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
            slugline = _SCENE_NUMBER.sub("", head.lstrip(".").rstrip())
            heading, blocks = _clean_inline(slugline).upper(), []
            continuous = bool(_CONTINUOUS_SLUGLINE.search(slugline))
            lines, line = lines[1:], line + 1
            if not lines:
                continue
            head = lines[0]
        cued = _cue_name(head)
        if len(lines) > 1 and cued:
            # MIRA and @mira are Mira; a forced cue in mixed case is written as meant (@McCLANE).
            speaker = cued.title() if cued in (cued.upper(), cued.lower()) else cued
            # (line offset, text) of what is said, parentheticals skipped
            said = [(at, ln) for at, ln in enumerate(lines[1:], start=1) if not (ln[:1] == "(" and ln[-1:] == ")")]
            english = [(at, ln) for at, ln in said if not _HINDI_LINE.match(ln)]
            hindi = [(at, m[1]) for at, ln in said if (m := _HINDI_LINE.match(ln))]
            if hindi and not english:
                raise StoryError(
                    f"story {name}: line {line + hindi[0][0]}: {speaker}'s dialogue has only [hi] lines; "
                    "put the line they translate above them"
                )
            if english:
                blocks.append(
                    StoryBlock(
                        kind="dialogue",
                        text=_clean_inline(" ".join(ln for _, ln in english)),
                        hindi=_clean_inline(" ".join(text for _, text in hindi)) or None,
                        speaker=speaker,
                        line=line + english[0][0],
                    )
                )
            continue
        _action_blocks((line, lines), blocks, name)
    if continuous and blocks:
        blocks[0].continues = True
    scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _action_blocks(paragraph: tuple[int, list[str]], blocks: list[StoryBlock], name: str) -> None:
    """Add an action paragraph, with its ``[hi]`` lines, or attach them to the block before it."""
    line, lines = paragraph
    action = [ln.lstrip("!") for ln in lines if not _HINDI_LINE.match(ln)]
    if action:
        blocks.append(StoryBlock(kind="action", text=_clean_inline(" ".join(action)), line=line))
    _attach_hindi(paragraph, blocks, name)


def _build_story(
    name: str,
    fmt: str,
    text: str,
    front: dict,
    title: str,
    scenes: list[StoryScene],
    languages: list[str] | None,
) -> Story:
    styles = load_styles()
    style = (_front_text(front.get("style"), "style", name) or "cinematic").lower()
    if style not in styles:
        raise StoryError(f"story {name}: unknown style {style!r}; use one of {', '.join(sorted(styles))}")
    characters = front.get("characters") or {}
    if not isinstance(characters, dict):
        raise StoryError(f"story {name}: 'characters' must map each name to a visual description")
    speakers = {b.speaker for s in scenes for b in s.blocks if b.speaker}
    introduced = _introductions(scenes, speakers) if fmt == "fountain" else {}
    characters = _unique_characters(name, characters)
    if fmt != "fountain" and not characters:
        # Prose has no cast list: its characters are the people its words name ("Arun folded a boat").
        characters = named_people("\n\n".join(b.text for s in scenes for b in s.blocks))
    characters |= {
        person: introduced.get(person, "") for person in sorted(speakers | set(introduced)) if person not in characters
    }
    for block in (b for s in scenes for b in s.blocks):
        block.language = written_in(block.text)
    spoken = [b for s in scenes for b in s.blocks if b.kind != "action"]
    has_hindi = any(b.hindi for s in scenes for b in s.blocks) or any(b.language == "hi" for b in spoken)
    has_english = any(b.language == "en" for b in spoken)
    # By default, the languages the story is written in: a story told in Hindi alone is narrated in Hindi.
    default = (["en"] if has_english or not has_hindi else []) + (["hi"] if has_hindi else [])
    chosen = languages or front.get("languages") or default
    if isinstance(chosen, str):
        chosen = [part.strip() for part in chosen.split(",")]
    if not isinstance(chosen, list):
        raise StoryError(f"story {name}: 'languages' must be a list such as [en, hi]")
    chosen = [str(code).strip().lower() for code in chosen]
    unknown = [code for code in chosen if code not in SUPPORTED_LANGUAGES]
    if unknown or not chosen:
        raise StoryError(
            f"story {name}: unsupported language {', '.join(unknown) or '(none)'}; use en and/or hi"
        )
    music = _front_text(front.get("music"), "music", name)
    try:
        return Story(
            title=title[:200],
            source_format=fmt,
            source_name=name,
            story_hash=hashlib.sha256(text.encode()).hexdigest(),
            style=style,
            languages=list(dict.fromkeys(chosen)),
            characters=characters,
            music=music or None,
            scenes=scenes,
            text=text,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise StoryError(f"story {name}: front matter field {field!r} is invalid ({first['msg']})") from None


def written_in(text: str) -> str:
    """"hi" for text written mostly in Devanagari letters, else "en"."""
    letters = [ch for ch in text if ch.isalpha()]
    devanagari = sum("\u0900" <= ch <= "\u097f" for ch in letters)
    return "hi" if devanagari * 2 > len(letters) else "en"


def _introductions(scenes: list[StoryScene], speakers: set[str]) -> dict[str, str]:
    """Each character a screenplay's action introduces with a description, by their first introduction.
    One who speaks under part of that name ("EMILY CHEN, a surgeon", then cues "EMILY") keeps the cue's."""
    found: dict[str, str] = {}
    for block in (b for scene in scenes for b in scene.blocks if b.kind == "action"):
        for match in _INTRODUCTION.finditer(block.text):
            name = match["name"].title()
            name = next((speaker for speaker in sorted(speakers) if speaker in name.split()), name)
            found.setdefault(name, match["about"].strip())
    return found


def _unique_characters(name: str, characters: dict) -> dict[str, str]:
    """Names cleaned of extra spaces; two names that differ only in case, width or spacing would be
    one person to the planner and two to the style bible, so they are refused."""
    cleaned: dict[str, str] = {}
    folded: dict[str, str] = {}
    for raw, description in characters.items():
        character = _clean_inline(str(raw))
        if not character:
            raise StoryError(f"story {name}: a character has an empty name; name every character")
        other = folded.setdefault(unicodedata.normalize("NFKC", character).casefold(), str(raw))
        if other != str(raw):
            raise StoryError(
                f"story {name}: characters {other!r} and {str(raw)!r} differ only in case, width or spacing; "
                "rename one"
            )
        cleaned[character] = _front_text(description, f"characters.{character}", name)
    return cleaned
