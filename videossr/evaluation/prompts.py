"""Prompt presets for custom data (the generic JSON format of eval/vqa.py / eval/vtg.py): the text around a question.

The paper's benchmarks do not use these: each has its own module in ``videossr.evaluation.benchmarks`` that sends
exactly what lmms-eval 0.7.3 sends for that benchmark (``--benchmark NAME --data-root DIR``). A preset is one wording
for any data, not a benchmark's protocol.

Presets (``PRESETS``; the name is recorded in every result line and in summary.json):

``lmms_eval`` (default)
    Multiple choice: the question, "A. ..." option lines, then "Answer with the option's letter from the given choices
    directly." (the post_prompt of several lmms-eval tasks, e.g. LongVideoBench's; MVBench's own prompt is another:
    ``benchmarks/mvbench.py``). Temporal grounding: lmms-eval's Charades-STA instruction
    (``lmms_eval/tasks/charades_sta/charades.yaml``, ``pre_prompt`` + the event sentence + ``". "`` +
    ``post_prompt``), as lmms-eval writes it (including its spelling): for Charades-STA sentences this is lmms-eval's
    user text exactly (not its system prompt: ``--benchmark charades`` sends both).
``lmms_eval_videomme``
    Multiple choice as the official Video-MME prompt without subtitles, which lmms-eval keeps only in a comment
    (``lmms_eval/tasks/videomme/utils.py``; its code sends another text, ``benchmarks/videomme.py``): an instruction
    before the question, "The best answer is:" after the options. Grounding as ``lmms_eval``.
``videossr``
    This project's own short direct-answer instructions (the wording used before the presets existed).

Usage::

    from videossr.evaluation.prompts import get_preset
    text = get_preset("lmms_eval").vtg("a person opens the door")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PromptPreset", "PRESETS", "DEFAULT_PRESET", "get_preset"]

# A multiple-choice answer instruction several lmms-eval tasks append (e.g. LongVideoBench's post_prompt).
_LMMS_MCQ_POST = "Answer with the option's letter from the given choices directly."
# The official Video-MME (frames only) instruction and answer cue (a comment in lmms-eval's videomme/utils.py).
_LMMS_VIDEOMME_PRE = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter (A, B, C, or D) of the correct option."
)
_LMMS_VIDEOMME_POST = "The best answer is:"
# lmms-eval's Charades-STA instruction; the event sentence goes between the two parts.
_LMMS_VTG_PRE = (
    "Please find the visual event described by a sentence in the video, determining its starting and ending times. "
    "The format should be: 'The event happens in the start time - end time'. For example, The event 'person turn a "
    "light on' happens in the 24.3 - 30.4 seonds. Now I will give you the textual sentence: "
)
_LMMS_VTG_POST = "Please return its start time and end time."

_VIDEOSSR_MCQ_POST = "Answer with the letter of the correct option only."
_VIDEOSSR_VTG_POST = (
    "Give the start and end time of this event in seconds, written as start-end with one decimal "
    "(for example 12.5-20.0), and nothing else."
)


@dataclass(frozen=True)
class PromptPreset:
    """How a question becomes the user text (the ``<video>`` placeholder is added by the caller)."""

    name: str
    source: str  # where the wording comes from
    mcq_pre: str  # before the question ("" for none)
    mcq_post: str  # after the options
    vtg_pre: str  # before the event sentence
    vtg_post: str  # after it
    vtg_joiner: str = "\n"  # between the sentence and vtg_post

    def vqa(self, question: str, options: Sequence[str] = ()) -> str:
        """User text of a multiple-choice item: [instruction], question, option lines, answer instruction."""
        lines = [self.mcq_pre] if self.mcq_pre else []
        lines.append(question.strip())
        lines += list(options)
        lines.append(self.mcq_post)
        return "\n".join(lines)

    def vtg(self, sentence: str) -> str:
        """User text of a grounding item: instruction, the event sentence, answer instruction."""
        return f"{self.vtg_pre}{sentence.strip()}{self.vtg_joiner}{self.vtg_post}"


PRESETS: dict[str, PromptPreset] = {
    "lmms_eval": PromptPreset(
        name="lmms_eval",
        source="lmms-eval: a common multiple-choice post_prompt, charades_sta pre_prompt/post_prompt (grounding)",
        mcq_pre="",
        mcq_post=_LMMS_MCQ_POST,
        vtg_pre=_LMMS_VTG_PRE,
        vtg_post=_LMMS_VTG_POST,
        vtg_joiner=". ",
    ),
    "lmms_eval_videomme": PromptPreset(
        name="lmms_eval_videomme",
        source="the official Video-MME prompt without subtitles (multiple choice), charades_sta (grounding)",
        mcq_pre=_LMMS_VIDEOMME_PRE,
        mcq_post=_LMMS_VIDEOMME_POST,
        vtg_pre=_LMMS_VTG_PRE,
        vtg_post=_LMMS_VTG_POST,
        vtg_joiner=". ",
    ),
    "videossr": PromptPreset(
        name="videossr",
        source="this project's direct-answer instructions",
        mcq_pre="",
        mcq_post=_VIDEOSSR_MCQ_POST,
        vtg_pre="",
        vtg_post=_VIDEOSSR_VTG_POST,
    ),
}
DEFAULT_PRESET = "lmms_eval"


def get_preset(name: str) -> PromptPreset:
    """The preset called ``name`` (case-insensitive); ValueError naming the choices otherwise."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"unknown prompt preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[key]
