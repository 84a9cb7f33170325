"""Domain types shared by every stage: the story, the plan, prompts and the records each asset writes.

Everything that crosses an asset boundary is one of these pydantic models, serialised as JSON in the
media store, so a run in another process (or on another machine) reads exactly what was written.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

LanguageCode = Literal["en", "hi"]
ISO_639_2 = {"en": "eng", "hi": "hin"}
LANGUAGE_NAMES = {"en": "English", "hi": "Hindi"}


class Framing(str, Enum):
    wide = "wide"
    medium = "medium"
    close = "close"


class CameraMove(str, Enum):
    push_in = "push_in"
    pull_out = "pull_out"
    pan_left = "pan_left"
    pan_right = "pan_right"
    tilt_up = "tilt_up"
    tilt_down = "tilt_down"


class Mood(str, Enum):
    calm = "calm"
    joyful = "joyful"
    tense = "tense"
    sad = "sad"
    mysterious = "mysterious"
    triumphant = "triumphant"


class TimeOfDay(str, Enum):
    dawn = "dawn"
    day = "day"
    dusk = "dusk"
    night = "night"


class Weather(str, Enum):
    rain = "rain"
    storm = "storm"
    snow = "snow"
    fog = "fog"


class Place(str, Enum):
    interior = "interior"
    water = "water"
    town = "town"
    forest = "forest"
    mountains = "mountains"
    tower = "tower"


class Prop(str, Enum):
    """Things a storyboard draws when a shot's text names them."""

    boat = "boat"
    bridge = "bridge"
    clock = "clock"
    lantern = "lantern"
    key = "key"
    book = "book"
    umbrella = "umbrella"
    candle = "candle"
    bicycle = "bicycle"
    car = "car"
    dog = "dog"
    bird = "bird"


# Props small enough to be carried: drawn in a character's hand.
HANDHELD_PROPS = frozenset({Prop.lantern, Prop.key, Prop.book, Prop.umbrella, Prop.candle})


class ShotProp(BaseModel):
    kind: Prop
    held_by: str | None = Field(default=None, description="the character holding it (handheld props only)")
    carried: bool = Field(default=False, description="kept from the shot before: this shot's text says 'it'")


class Extra(BaseModel):
    """Someone a shot shows without a name."""

    label: str = Field(description="what the story calls them, e.g. 'little girl'")
    description: str = Field(description="the words that describe them, e.g. 'a little girl in a red dress'")
    count: int = Field(default=1, description="how many to draw: a group ('the villagers') is three")


class Setting(BaseModel):
    """Where and when a scene happens, as far as the story says; what it does not say stays unset."""

    time_of_day: TimeOfDay | None = None
    weather: Weather | None = None
    places: list[Place] = Field(default_factory=list, description="in the order the story mentions them")


# ---------------------------------------------------------------- story (parsed source)


class StoryBlock(BaseModel):
    """One paragraph of prose, one action line, or one line of dialogue."""

    kind: Literal["narration", "action", "dialogue"]
    text: str
    language: LanguageCode = Field("en", description="the language ``text`` is written in: hi when in Devanagari")
    hindi: str | None = None
    speaker: str | None = None
    line: int = Field(description="1-based line number in the source file")
    continues: bool = Field(False, description="marked as picking up where the shot before ends, no cut in time")


class StoryScene(BaseModel):
    heading: str
    blocks: list[StoryBlock]


class Story(BaseModel):
    title: str
    source_format: Literal["txt", "md", "fountain"]
    source_name: str
    story_hash: str
    style: str = "cinematic"
    languages: list[LanguageCode] = ["en"]
    characters: dict[str, str] = {}
    music: str | None = None
    scenes: list[StoryScene]
    text: str = Field("", description="the normalised source text; story_hash is its SHA-256")


# ---------------------------------------------------------------- plan


class NarrationLine(BaseModel):
    text: str
    speaker: str | None = None
    machine_translated: bool = False
    line: int | None = Field(None, description="the story line it comes from (a shot can speak several)")


class Shot(BaseModel):
    key: str = Field(description="shot partition key, e.g. tide-clock__s02-03")
    scene_number: int
    number_in_scene: int
    visual: str
    visual_en: str | None = Field(
        None, description="the visual machine-translated to English for image and video prompts, when not in English"
    )
    narration: dict[str, list[NarrationLine]] = Field(
        description="language code -> lines; a language absent here has no text for this shot"
    )
    planned_duration_s: float
    characters: list[str] = []
    props: list[ShotProp] = Field(default_factory=list, description="in the order the shot's text names them")
    extras: list[Extra] = Field(default_factory=list, description="people the shot's text mentions without a name")
    framing: Framing
    camera: CameraMove
    mood: Mood
    source_line: int
    continues_previous: bool = Field(
        False, description="the clip starts on the previous shot's last frame (an image-to-video backend)"
    )


class Scene(BaseModel):
    number: int
    heading: str
    mood: Mood
    setting: Setting = Field(default_factory=Setting)
    shots: list[Shot]


class FilmPlan(BaseModel):
    film_key: str
    title: str
    style: str
    languages: list[LanguageCode]
    fps: int = 24
    width: int = 1280
    height: int = 720
    music: str | None = None
    planner: str
    scenes: list[Scene]

    @classmethod
    def for_story(
        cls, story: Story, film_key: str, fps: int, width: int, height: int, planner: str, scenes: list[Scene]
    ) -> FilmPlan:
        """A plan that carries the story's title, style, languages and music hint."""
        return cls(
            film_key=film_key,
            title=story.title,
            style=story.style,
            languages=story.languages,
            fps=fps,
            width=width,
            height=height,
            music=story.music,
            planner=planner,
            scenes=scenes,
        )

    @property
    def shots(self) -> list[Shot]:
        return [shot for scene in self.scenes for shot in scene.shots]

    def shot(self, key: str) -> Shot:
        for shot in self.shots:
            if shot.key == key:
                return shot
        raise KeyError(f"shot {key} is not in the plan of film {self.film_key}")

    def scene_of(self, shot: Shot) -> Scene:
        return self.scenes[shot.scene_number - 1]

    def continued_from(self, shot: Shot) -> Shot | None:
        """The shot a continuation starts from (the one before it in the film); None for other shots."""
        index = self.shots.index(shot)
        return self.shots[index - 1] if shot.continues_previous and index > 0 else None

    def continued_by(self, shot: Shot) -> Shot | None:
        """The next shot, when it continues this one."""
        following = self.shots[self.shots.index(shot) + 1 :]
        return following[0] if following and following[0].continues_previous else None

    @property
    def planned_duration_s(self) -> float:
        return sum(shot.planned_duration_s for shot in self.shots)


# ---------------------------------------------------------------- style


class StylePreset(BaseModel):
    name: str
    prompt_prefix: str
    prompt_suffix: str = ""
    negative_prompt: str = ""
    palette: list[str] = Field(description="hex colours, darkest first")
    paper: str = Field(description="hex colour of the storyboard paper")
    ink: str = Field(description="hex colour of the storyboard ink")


class CharacterLook(BaseModel):
    """How a storyboard draws a character, from their description (colour names; None: not described)."""

    stature: float = Field(1.0, description="height standing, against an adult's (a child 0.68, someone tall 1.12)")
    coat: str | None = None
    hat: str | None = None
    scarf: str | None = None
    beard: str | None = None
    hair: str | None = None


class CharacterSheet(BaseModel):
    name: str
    description: str
    seed: int
    colour: str = Field(description="the colour they wear: their coat's if described, else one of the film's")
    voice: str = Field(description="voice variant for the speech backend")
    look: CharacterLook = Field(default_factory=CharacterLook)


class StyleBible(BaseModel):
    film_key: str
    style: StylePreset
    base_seed: int
    characters: list[CharacterSheet]

    def character(self, name: str) -> CharacterSheet | None:
        return next((c for c in self.characters if c.name == name), None)


class ShotPrompt(BaseModel):
    shot_key: str
    prompt: str
    negative_prompt: str
    seed: int
    style: str
    characters: list[CharacterSheet]
    caption: str = Field(description="the shot's action, as shown on a storyboard")
    scene_heading: str
    shot_label: str = Field(description="e.g. 'Scene 2 · Shot 3'")
    framing: Framing
    camera: CameraMove
    mood: Mood
    setting: Setting = Field(default_factory=Setting)
    speakers: list[str] = Field(default_factory=list, description="characters who speak lines in the shot")
    props: list[ShotProp] = Field(default_factory=list)
    extras: list[Extra] = Field(default_factory=list)


# ---------------------------------------------------------------- media records


class MediaRef(BaseModel):
    """A file in the media store, addressed by the SHA-256 of its content."""

    digest: str
    ext: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.digest}{self.ext}"


class QualityAttempt(BaseModel):
    """One render of a shot and what its quality checks measured."""

    seed: int
    backend: str
    passed: bool
    failed_checks: list[str] = []
    scores: dict[str, float] = {}


class KeyframeRecord(BaseModel):
    shot_key: str
    image: MediaRef
    thumbnail: MediaRef
    width: int
    height: int
    seed: int
    backend: str
    model_id: str
    clip_score: float | None = Field(None, description="prompt–image similarity, when a scorer is configured")
    attempts: list[QualityAttempt] = []


class SpeechTake(BaseModel):
    language: LanguageCode
    audio: MediaRef | None = Field(description="None when the shot has no text in this language")
    duration_s: float


class ShotNarrationRecord(BaseModel):
    shot_key: str
    takes: dict[str, SpeechTake]
    final_duration_s: float = Field(description="the shot's length on the film timeline")
    backend: str
    model_id: str
    made_for: str = Field("", description="film_records.shot_basis of the shot and style bible it was made from")


class CheckOutcome(BaseModel, frozen=True):
    name: str
    passed: bool
    value: float
    description: str


class ClipChecks(BaseModel):
    """A clip's measured quality checks, kept by its content and thresholds: a clip found by hash is not
    decoded again to be judged the same way."""

    outcomes: list[CheckOutcome]


class PromptScore(BaseModel):
    """A keyframe's CLIP similarity to its prompt, kept by image, prompt and scorer: a keyframe found by
    hash is judged without loading the scorer."""

    clip_score: float


class ClipRecord(BaseModel):
    shot_key: str
    video: MediaRef
    duration_s: float
    frames: int
    fps: int
    camera: CameraMove
    fade_in: bool
    fade_out: bool
    backend: str
    model_id: str
    seed: int
    attempts: list[QualityAttempt] = []
    made_for: str = Field("", description="film_records.shot_basis of the shot and style bible it was made from")
    continues_clip: str | None = Field(None, description="digest of the previous shot's clip it starts from")


class TimelineEntry(BaseModel):
    shot_key: str
    start_s: float
    duration_s: float


class NarrationRecord(BaseModel):
    film_key: str
    tracks: dict[str, MediaRef]
    timeline: list[TimelineEntry]
    duration_s: float
    sample_rate: int
    missing_lines: dict[str, list[str]] = Field(
        default_factory=dict, description="language -> source lines with no text in that language"
    )


class SubtitleRecord(BaseModel):
    film_key: str
    srt: dict[str, MediaRef]
    vtt: dict[str, MediaRef]
    cues: dict[str, int]


class MusicRecord(BaseModel):
    film_key: str
    scores: dict[str, MediaRef] = Field(description="language -> the score ducked under that language's narration")
    duration_s: float
    backend: str
    model_id: str


class SoundtrackTrack(BaseModel):
    """One language's soundtrack and what it measured, kept by its narration and score."""

    audio: MediaRef = Field(description="narration mixed over the score, AAC")
    narration_over_music_db: float | None = Field(description="None when nobody speaks in this language")


class SoundtrackRecord(BaseModel):
    film_key: str
    tracks: dict[str, MediaRef] = Field(description="language -> narration mixed over the score, AAC")
    duration_s: float


class FinalCutRecord(BaseModel):
    film_key: str
    video: MediaRef
    duration_s: float
    languages: list[LanguageCode]


class ShotManifest(BaseModel):
    shot_key: str
    prompt: str
    negative_prompt: str
    seed: int = Field(description="the shot prompt's seed")
    seeds: dict[str, int] = Field(
        default_factory=dict, description="artifact -> the seed it was made with (a quality re-roll moves it)"
    )
    backends: dict[str, str]
    outputs: dict[str, str] = Field(description="artifact -> SHA-256")
    duration_s: float


class FilmManifest(BaseModel):
    """Everything needed to render the film again (``filmgen render --manifest``) and to check the result."""

    film_key: str
    title: str
    story_hash: str
    source_name: str = Field(description="the story's file name (its extension picks the format)")
    story_text: str = Field(description="the normalised story text; story_hash is its SHA-256")
    languages: list[LanguageCode] | None = Field(description="languages chosen at registration, if any")
    profile: str
    profile_sha256: str
    backend_specs: dict[str, dict] = Field(
        description="modality -> backend kind and options (model, revision), and `snapshots`: model -> hub commit "
        "or local files fingerprint"
    )
    plan: FilmPlan
    shots: list[ShotManifest]
    outputs: dict[str, str]
    missing_lines: dict[str, list[str]]
    library_versions: dict[str, str]
    contact_sheet: MediaRef


class FilmRegistration(BaseModel):
    """Written when a film is registered; tells the ``story`` asset what to read."""

    film_key: str
    source_path: str
    profile: str
    languages: list[LanguageCode] | None = None
    story_hash: str
    # A story from the inbox is kept in the media store: the render may run later, elsewhere.
    stored_source: MediaRef | None = None


class InboxEntry(BaseModel):
    """What became of one story file content (keyed by its SHA-256) dropped into the inbox."""

    name: str
    digest: str
    film_key: str | None = None
    rejected: str | None = None


class QueuedRender(BaseModel):
    """A film waiting for the render window; ``ticket`` tags its runs so it is rendered once."""

    film_key: str
    ticket: str
