"""Shot planning by a local chat LLM that answers with JSON, validated by pydantic; the rule planner is the net.

The model sees the JSON schema of a compact plan (only what it can decide: shots, their narration, length
and camera), and the story with line numbers. A reply that fails validation is sent back with the error;
after ``max_tries`` failures the rule-based plan is used and the reason is recorded in ``FilmPlan.planner``.
"""

from __future__ import annotations

import json

import torch
from pydantic import BaseModel, Field, ValidationError
from transformers import AutoModelForCausalLM, AutoTokenizer

from filmgen_dagster.backends.rules_planner import (
    MAX_SHOT_S,
    MIN_SHOT_S,
    RuleBasedPlanner,
    clamp_shot_seconds,
    scene_setting,
    shot_extras,
    shot_props,
)
from filmgen_dagster.backends.torch_common import load_model, model_id, resolve_device, resolve_dtype
from filmgen_dagster.domain import (
    CameraMove,
    FilmPlan,
    Framing,
    LanguageCode,
    Mood,
    NarrationLine,
    Scene,
    Setting,
    Shot,
    ShotProp,
    Story,
)
from filmgen_dagster.keys import shot_key

_REASON_CHARS = 240


class LlmLine(BaseModel):
    text: str
    speaker: str | None = Field(default=None, description="who speaks a dialogue line; null for narration")


class LlmShot(BaseModel):
    visual: str = Field(description="what the camera sees, one or two sentences")
    narration: dict[LanguageCode, list[LlmLine]] = Field(
        default_factory=dict,
        description="language code -> lines spoken over this shot, copied from the story",
    )
    duration_s: float = Field(description=f"seconds on screen, {MIN_SHOT_S:g} to {MAX_SHOT_S:g}")
    characters: list[str] = Field(default_factory=list, description="characters visible in the shot")
    framing: Framing
    camera: CameraMove
    mood: Mood
    source_line: int = Field(description="the L number of the story line the shot shows")
    continues_previous: bool = Field(
        default=False,
        description="true when the shot picks up exactly where the previous shot ends, with no cut in time "
        "(the story marks such lines [continuous])",
    )


class LlmScene(BaseModel):
    mood: Mood
    setting: Setting | None = Field(
        default=None, description="time of day, weather and places the scene shows; null to read them from its text"
    )
    shots: list[LlmShot] = Field(min_length=1)


class LlmPlan(BaseModel):
    scenes: list[LlmScene] = Field(min_length=1, description="exactly one entry per story scene, in order")


class PlanReplyError(ValueError):
    """A reply that is not a valid plan; the message (one line) is shown to the model on the next try."""


def parse_plan_reply(reply: str, scene_count: int) -> LlmPlan:
    """The first JSON object in ``reply`` (prose or code fences around it are ignored), validated."""
    start = reply.find("{")
    if start == -1:
        raise PlanReplyError("the reply contains no JSON object")
    try:
        data, _ = json.JSONDecoder().raw_decode(reply, start)
    except json.JSONDecodeError as exc:
        raise PlanReplyError(f"the JSON is invalid: {exc}") from None
    try:
        plan = LlmPlan.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg']}" for e in exc.errors()[:5])
        raise PlanReplyError(f"the JSON does not match the schema ({exc.error_count()} errors): {problems}") from None
    if len(plan.scenes) != scene_count:
        raise PlanReplyError(f"the plan has {len(plan.scenes)} scenes but the story has {scene_count}")
    return plan


def story_prompt(story: Story) -> str:
    """The story as the model reads it: numbered scenes, each block with its source line number."""
    out = [f"Title: {story.title}", f"Style: {story.style}", f"Narration languages: {', '.join(story.languages)}"]
    out += [f"Character: {name}" + (f", {about}" if about else "") for name, about in story.characters.items()]
    for number, scene in enumerate(story.scenes, start=1):
        out.append(f"\nScene {number}: {scene.heading}")
        for block in scene.blocks:
            speaker = f" {block.speaker}:" if block.speaker else ""
            continuous = " [continuous]" if block.continues else ""
            out.append(f"L{block.line} [{block.kind}]{continuous}{speaker} {block.text}")
            if block.hindi and "hi" in story.languages:
                out.append(f"L{block.line} [hi]{speaker} {block.hindi}")
    return "\n".join(out)


class LlmPlanner:
    backend_id = "transformers-chat"

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        torch_dtype: str = "auto",
        device: str = "auto",
        max_new_tokens: int = 2048,
        max_tries: int = 3,
    ) -> None:
        self.model_id = model_id(model, revision)
        self.device = resolve_device(device)
        dtype = resolve_dtype(torch_dtype, self.device)
        self.tokenizer = load_model("planner", model, lambda: AutoTokenizer.from_pretrained(model, revision=revision))
        self.model = load_model(
            "planner", model, lambda: AutoModelForCausalLM.from_pretrained(model, revision=revision, dtype=dtype)
        ).to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.max_tries = max(1, max_tries)
        self.last_fallback_reason: str | None = None  # for run metadata: why the last plan came from the rules

    def plan(self, story: Story, film_key: str, fps: int, width: int, height: int) -> FilmPlan:
        base = [
            {"role": "system", "content": self._system_prompt(story)},
            {"role": "user", "content": story_prompt(story)},
        ]
        messages, error = base, ""
        for _ in range(self.max_tries):
            reply, cut = self._generate(messages)
            try:
                draft = parse_plan_reply(reply, len(story.scenes))
            except PlanReplyError as exc:
                error = f"{exc} (the reply was cut at max_new_tokens={self.max_new_tokens})" if cut else str(exc)
                # Only the latest attempt is sent back, so the context stays bounded however many tries.
                messages = [
                    *base,
                    {"role": "assistant", "content": reply},
                    {
                        "role": "user",
                        "content": f"That is not a valid plan: {error}. Reply with the corrected JSON object only.",
                    },
                ]
                continue
            self.last_fallback_reason = None
            return self._film_plan(draft, story, film_key, fps, width, height)
        # One line, whatever the error said: it becomes part of FilmPlan.planner.
        reason = " ".join(f"no valid plan in {self.max_tries} tries, last: {error}".split())[:_REASON_CHARS]
        self.last_fallback_reason = reason
        plan = RuleBasedPlanner().plan(story, film_key, fps, width, height)
        return plan.model_copy(update={"planner": f"{self.backend_id} → {plan.planner} (fallback: {reason})"})

    def _system_prompt(self, story: Story) -> str:
        schema = json.dumps(LlmPlan.model_json_schema(), separators=(",", ":"))
        return (
            "You plan the shots of a short animated film from a story. Answer with one JSON object only, "
            f"no prose, matching this JSON schema:\n{schema}\n"
            "Rules: one scene entry per story scene, in order; every narration and dialogue line of the story "
            "is spoken in exactly one shot, copied word for word, in each of the languages "
            f"{', '.join(story.languages)} that the story gives; a shot lasts about as long as its narration "
            "takes to speak."
        )

    def _generate(self, messages: list[dict[str, str]]) -> tuple[str, bool]:
        """The model's reply, greedy, and whether it was cut by max_new_tokens."""
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        with torch.inference_mode():
            # Sampling parameters from the checkpoint's generation config are cleared: greedy is reproducible.
            out = self.model.generate(
                **inputs,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                max_new_tokens=self.max_new_tokens,
            )
        new = out[0, inputs["input_ids"].shape[1] :]
        cut = len(new) >= self.max_new_tokens
        return self.tokenizer.decode(new, skip_special_tokens=True), cut

    def _film_plan(self, draft: LlmPlan, story: Story, film_key: str, fps: int, width: int, height: int) -> FilmPlan:
        scenes: list[Scene] = []
        props: list[ShotProp] = []  # the previous shot's, across scene cuts too
        for number, (scene, source) in enumerate(zip(draft.scenes, story.scenes), start=1):
            lines = sorted(block.line for block in source.blocks)
            shots = [
                Shot(
                    key=shot_key(film_key, number, index),
                    scene_number=number,
                    number_in_scene=index,
                    visual=shot.visual,
                    narration={
                        lang: [NarrationLine(text=line.text, speaker=line.speaker) for line in lines]
                        for lang, lines in shot.narration.items()
                        if lang in story.languages and lines
                    },
                    planned_duration_s=clamp_shot_seconds(shot.duration_s),
                    characters=shot.characters,
                    framing=shot.framing,
                    camera=shot.camera,
                    mood=shot.mood,
                    # A line number outside the scene would point the storyboard at the wrong text.
                    source_line=shot.source_line if shot.source_line in lines else lines[0],
                    # The film's first shot has nothing to continue from.
                    continues_previous=shot.continues_previous and (number, index) != (1, 1),
                )
                for index, shot in enumerate(scene.shots, start=1)
            ]
            for shot in shots:  # read from the shot's own words, as the rules planner does
                shot.props = props = shot_props(shot.visual, shot.characters, props)
                shot.extras = shot_extras(shot.visual, story.characters)
            setting = scene.setting or scene_setting(source, scenes[-1].setting if scenes else None)
            scenes.append(Scene(number=number, heading=source.heading, mood=scene.mood, setting=setting, shots=shots))
        return FilmPlan.for_story(story, film_key, fps, width, height, self.backend_id, scenes)
