"""Read a story file (.txt, .md with YAML front matter, .fountain) into a validated ``Story``.

Every problem a user can cause raises ``StoryError`` with one sentence naming the file and the fix.
"""

from __future__ import annotations

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
_SLUGLINE = re.compile(r"^(INT|EXT|EST|INT\./EXT|INT/EXT|I/E)[.\s]", re.IGNORECASE)
_CHARACTER_CUE = re.compile(r"^(?P<name>[A-Z][A-Z0-9 .'\-]*?)\s*(\(.*\))?\s*\^?$")
# Fountain's forced cue, for names not in capitals: "@McCLANE (V.O.)", or any script without them ("@सीता").
_FORCED_CUE = re.compile(r"^@(?P<name>[^(^]+?)\s*(\(.*\))?\s*\^?$")
# A screenplay introduces a character in capitals, often with a description after a comma:
# "PRIYA, a young cook, fans the coals." (an age in brackets may come between). Names of at most four
# words keep the search linear in a long paragraph of capitals.
_INTRODUCTION = re.compile(
    r"\b(?P<name>[A-Z][A-Z'\-]+(?: [A-Z][A-Z'\-]+){0,3})(?: \([^)]*\))?, (?P<about>(?:an?|the) [^,.;:!?]+)"
)
_TRANSITION = re.compile(r"^[A-Z\s]+TO:$")
# A paragraph starting with this continues the shot before it (its clip starts on that shot's last frame).
_CONTINUATION_MARK = re.compile(r"^\s*\[continuous\]\s*", re.IGNORECASE)
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
        title_page, body, body_line = _split_title_page(body)
        front = {"title": title_page["title"]} if "title" in title_page else {}
    title = _clean_inline(str(front.get("title") or ""))
    if fmt == "txt":
        title, body, body_line = _title_from_first_line(body)
    body, marked = _strip_continuation_marks(body, body_line, name)
    scenes = {
        "txt": _parse_prose,
        "md": _parse_markdown,
        "fountain": _parse_fountain,
    }[fmt](body, body_line)
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
    text = unicodedata.normalize("NFC", text)
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
    return "\n".join(lines), marked


def _mark_continuations(scenes: list[StoryScene], marked: set[int], name: str) -> None:
    blocks = {block.line: block for scene in scenes for block in scene.blocks}
    for line in sorted(marked):
        if line not in blocks:
            raise StoryError(
                f"story {name}: line {line}: [continuous] must start a narration or action paragraph"
            )
        blocks[line].continues = True


def _clean_inline(text: str) -> str:
    return " ".join(text.split())


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
    if not text.startswith("---\n"):
        return {}, text, 1
    end = text.find("\n---", 3)
    if end == -1:
        raise StoryError(f"story {name}: front matter starts with '---' but never closes; add a closing '---' line")
    try:
        front = yaml.load(text[4:end], Loader=_FrontMatterLoader) or {}
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
    if len(candidate) <= 80 and followed_by_blank and len(lines) > first + 2:
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


def _prose_blocks(paragraph: tuple[int, list[str]], blocks: list[StoryBlock]) -> None:
    """Add a paragraph's narration, or attach its ``[hi]`` lines to the paragraph before it."""
    line, lines = paragraph
    english = [ln for ln in lines if not _HINDI_LINE.match(ln)]
    hindi = [m[1] for ln in lines if (m := _HINDI_LINE.match(ln))]
    if english:
        blocks.append(StoryBlock(kind="narration", text=_clean_inline(" ".join(english)), line=line))
    if hindi and blocks:
        last = blocks[-1]
        last.hindi = _clean_inline(" ".join(([last.hindi] if last.hindi else []) + hindi)) or None


def _parse_prose(body: str, first_line: int) -> list[StoryScene]:
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
        _prose_blocks(paragraph, blocks)
    scenes.append(StoryScene(heading=f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _parse_markdown(body: str, first_line: int) -> list[StoryScene]:
    scenes: list[StoryScene] = []
    heading = ""
    blocks: list[StoryBlock] = []
    for line, lines in _paragraphs(body, first_line):
        for offset, text in enumerate(lines):
            if text.startswith("#"):
                if blocks or heading:
                    scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
                heading, blocks = _clean_inline(text.lstrip("#")), []
                rest = lines[offset + 1 :]
                if rest:
                    _prose_blocks((line + offset + 1, rest), blocks)
                break
        else:
            _prose_blocks((line, lines), blocks)
    scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _split_title_page(body: str) -> tuple[dict[str, str], str, int]:
    lines = body.split("\n")
    if not lines or not re.match(r"^[A-Za-z ]+:", lines[0]):
        return {}, body, 1
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    page = {}
    for line in lines[:end]:
        key, _, value = line.partition(":")
        page[key.strip().lower()] = value.strip()
    return page, "\n".join(lines[end:]), end + 1


def _parse_fountain(body: str, first_line: int) -> list[StoryScene]:
    """Sluglines start scenes; action paragraphs become shots; cue + dialogue become narration."""
    scenes: list[StoryScene] = []
    heading = ""
    blocks: list[StoryBlock] = []
    # A "... - CONTINUOUS" slugline: the scene's first shot continues the last shot before it.
    continuous = False
    for line, lines in _paragraphs(body, first_line):
        if continuous and blocks:
            blocks[0].continues, continuous = True, False
        head = lines[0]
        if _SLUGLINE.match(head) or (head.startswith(".") and not head.startswith("..")):
            if blocks or heading:
                scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
            heading, blocks = _clean_inline(head.lstrip(".")).upper(), []
            continuous = bool(_CONTINUOUS_SLUGLINE.search(head))
            lines, line = lines[1:], line + 1
            if not lines:
                continue
            head = lines[0]
        if _TRANSITION.match(head) or head.startswith(("=", "[[", "/*")):
            continue
        cue = _FORCED_CUE.match(head) or (_CHARACTER_CUE.match(head) if head.upper() == head else None)
        if len(lines) > 1 and cue:
            name = _clean_inline(cue["name"])
            # MIRA and @mira are Mira; a forced cue in mixed case is written as meant (@McCLANE).
            speaker = name.title() if name in (name.upper(), name.lower()) else name
            spoken = [ln for ln in lines[1:] if not (ln.startswith("(") and ln.endswith(")"))]
            english = [ln for ln in spoken if not _HINDI_LINE.match(ln)]
            hindi = [m[1] for ln in spoken if (m := _HINDI_LINE.match(ln))]
            if english:
                blocks.append(
                    StoryBlock(
                        kind="dialogue",
                        text=_clean_inline(" ".join(english)),
                        hindi=_clean_inline(" ".join(hindi)) or None,
                        speaker=speaker,
                        line=line + 1,
                    )
                )
            continue
        _hindi_or_action(line, lines, blocks)
    if continuous and blocks:
        blocks[0].continues = True
    scenes.append(StoryScene(heading=heading or f"Scene {len(scenes) + 1}", blocks=blocks))
    return scenes


def _hindi_or_action(line: int, lines: list[str], blocks: list[StoryBlock]) -> None:
    action = [ln.lstrip("!") for ln in lines if not _HINDI_LINE.match(ln)]
    hindi = [m[1] for ln in lines if (m := _HINDI_LINE.match(ln))]
    if action:
        blocks.append(StoryBlock(kind="action", text=_clean_inline(" ".join(action)), line=line))
    elif hindi and blocks:
        blocks[-1].hindi = _clean_inline(" ".join(hindi))


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
    style = str(front.get("style") or "cinematic").strip().lower()
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
    music = front.get("music")
    try:
        return Story(
            title=title[:200],
            source_format=fmt,
            source_name=name,
            story_hash=hashlib.sha256(text.encode()).hexdigest(),
            style=style,
            languages=list(dict.fromkeys(chosen)),
            characters=characters,
            music=_clean_inline(str(music)) if music else None,
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
                f"story {name}: characters {other!r} and {str(raw)!r} differ only in case or spacing; rename one"
            )
        cleaned[character] = _clean_inline(str(description or ""))
    return cleaned
