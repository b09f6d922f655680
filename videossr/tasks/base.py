"""The contract every pretext task fulfils, in one class: ``PretextTask``.

A task owns everything about itself, and the rest of the project looks it up in the table of
``videossr.tasks`` (by name or by data_source) instead of branching on its name:

* identity: ``name`` (``"grounding"``), the ``data_source`` its rows carry (``"videossr_grounding"``), the
  reference implementation's names it also answers to (``aliases``), and ``task_id`` (the number logged by the
  reward and used to keep the random streams of different tasks apart);
* difficulty: its frozen ``Params`` dataclass (validated in ``__post_init__``) and named ``presets`` (what the
  build's mix and VIUBench's subtypes refer to);
* generation, in two steps: ``draw(video, rng, params, ctx) -> Draft`` makes every random choice and derives the
  question, the answer and the audit info without reading a pixel; ``clips(video, ctx, audit)`` renders the frames
  the model sees from the audit info alone (pure: it reads the frame store through ``ctx`` and writes nothing).
  ``make_sample`` is the two together. The split is what lets a dataset keep only recipes on disk and make the
  pixels when the trainer loads an item (``videossr.training.dataset``);
* the answer: ``format_answer`` (truth -> the exact answer string), ``parse_gold`` (an answer string -> the truth,
  strict: ValueError naming the bad value), ``parse_answer`` (free model output -> a prediction or None, tolerant)
  and ``score(pred, truth, mode)`` for ``"smooth"`` (training) and ``"strict"`` (VIUBench, the ablation);
  ``score_text`` puts them together, and is what the verl reward and VIUBench both call, so a score means the same
  thing in training and evaluation;
* looking at it: ``preview(params)``, what a contact sheet marks on a sample's frames;
* how hard it is: ``difficulty(audit)``, a short label of the difficulty a sample was drawn at (``F3K3``,
  ``6clips``); ``ladder``, the task's difficulty settings ordered from easiest to hardest with the paper's marked
  (what the training curriculum, ``videossr.training.curriculum``, climbs); ``sweep_grid(**options)`` and
  ``grid_flags``, the settings the difficulty sweep measures and the command-line flags that change them; and
  ``guess(rng, audit)``, an answer drawn uniformly from the answer space a sample with that audit
  info offers: the guesser whose expected score is the chance level (``videossr.evaluation.chance``).

Plain parsing and metric functions stay in ``videossr.tasks.answers`` and ``videossr.tasks.metrics``; tasks call them.

Adding a task: write one module with a ``PretextTask`` subclass and add one line to the table in
``videossr/tasks/__init__.py`` (or call ``videossr.tasks.register`` from your own code).
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from videossr.sampling.store import TaskContext, VideoRecord, frame_path
from videossr.tasks.sample import Clip, Sample

MODES = ("smooth", "strict")
RGB = tuple[int, int, int]


class Score(NamedTuple):
    """The score of one answer: ``value`` in [0, 1] (in the mode asked for), whether it parsed, its strict score,
    and the prediction read from it (None when it did not parse). A named tuple: the reward makes one per call."""

    value: float
    format_ok: bool
    strict: float
    parsed: Any = None


UNPARSED = Score(0.0, False, 0.0)


@dataclass(frozen=True)
class Preview:
    """What a contact sheet marks on one sample (see ``videossr.datasets.preview``)."""

    header: str = ""  # appended to the row's header line
    marks: Mapping[tuple[int, int], tuple[RGB, str]] = field(default_factory=dict)  # (clip, frame) -> colour, label
    clip_labels: Mapping[int, str] = field(default_factory=dict)  # shown clip position -> text after "shown k"
    one_row_per_clip: bool = False  # lay clips out one per grid row (multi-clip tasks)


@dataclass(frozen=True)
class Rung:
    """One step of a task's difficulty ladder: a label (folder- and metric-safe), the task's Params, and whether it
    is the paper's setting."""

    label: str
    params: Any
    paper: bool = False


@dataclass(frozen=True)
class GridPoint:
    """One setting of the difficulty sweep: a label, the family it competes in (one choice per family), the Params."""

    label: str
    family: str
    params: Any


@dataclass(frozen=True)
class GridFlag:
    """A command-line flag that changes a task's sweep grid: ``flag`` (``--counting-grid``), the keyword of
    ``sweep_grid`` it fills (``option``), how its value is written (``kind``: ``pairs`` "1x1,2x2" / "4-8,8-16",
    ``ints`` "3,4,6", ``names`` "A,B"), and its help text."""

    flag: str
    option: str
    kind: str
    metavar: str
    help: str


@dataclass(frozen=True)
class Draft:
    """A sample before its pixels: the question, the answer, and the audit info the frames are rendered from."""

    video_id: str
    question: str
    answer: str
    params: Mapping[str, Any]  # JSON-serialisable; everything ``PretextTask.clips`` needs


def audit_int(audit: Mapping[str, Any], key: str, lo: int = 0, hi: float = math.inf) -> int:
    """``audit[key]`` as an integer in ``[lo, hi]``; ValueError naming the field otherwise (for ``redraft``)."""
    value = audit.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        where = f"an integer >= {lo}" if hi == math.inf else f"an integer in [{lo}, {hi}]"
        raise ValueError(f"{key}: must be {where}, got {value!r:.80}")
    return value


def audit_mapping(audit: Any) -> Mapping[str, Any]:
    """``audit`` if it is a JSON object; ValueError otherwise (for ``redraft``)."""
    if not isinstance(audit, Mapping):
        raise ValueError(f"must be a JSON object, got {type(audit).__name__}")
    return audit


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


class PretextTask(ABC):
    """One pretext task (see the module docstring). Subclasses set the class attributes and the abstract methods."""

    name: ClassVar[str]
    data_source: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    task_id: ClassVar[int]
    Params: ClassVar[type]
    default_preset: ClassVar[str]

    # --- difficulty ------------------------------------------------------------------------------------------

    @property
    @abstractmethod
    def presets(self) -> Mapping[str, Any]:
        """Named parameter sets (difficulty settings) of this task."""

    @property
    def default_params(self) -> Any:
        return self.presets[self.default_preset]

    def preset(self, name: str) -> Any:
        """The parameters of a named preset (case-insensitive); ValueError naming the choices otherwise."""
        for key, params in self.presets.items():
            if key.lower() == str(name).strip().lower():
                return params
        raise ValueError(f"task {self.name!r} has no preset {name!r}; choose from {sorted(self.presets)}")

    def params(self, **overrides: Any) -> Any:
        """The default parameters with some fields replaced (validated by the Params class)."""
        return dataclasses.replace(self.default_params, **overrides)

    def params_from_json(self, data: Mapping[str, Any]) -> Any:
        """A Params from its JSON form (``params_to_json``); lists become tuples where the field is a tuple."""
        kwargs = {}
        for f in dataclasses.fields(self.Params):
            if f.name in data:
                value = data[f.name]
                kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        unknown = set(data) - {f.name for f in dataclasses.fields(self.Params)}
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        return self.Params(**kwargs)

    # --- generation ------------------------------------------------------------------------------------------

    @abstractmethod
    def draw(self, video: VideoRecord, rng: np.random.Generator, params: Any, ctx: TaskContext) -> Draft:
        """Every random choice of one sample on ``video``, from ``rng`` alone; reads no pixels."""

    @abstractmethod
    def clips(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[Clip, ...]:
        """The clips the model sees, rendered from a draft's audit info (pure; reads frames, writes nothing)."""

    def layout(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[tuple[Path, ...], ...]:
        """The source frames in the shape of the rendered clips (same count and size), without rendering.

        What a recipe row lists as its videos (see ``videossr.tasks.sample``). The default is one clip of every frame of
        the video, the shape of a task that changes frames in place; multi-clip tasks override it.
        """
        return (tuple(frame_path(ctx, video, i) for i in range(video.num_frames)),)

    def redraft(self, audit: Any, video: VideoRecord | None = None, ctx: TaskContext | None = None) -> Draft | None:
        """The draft a sample's audit info describes, re-derived without reading a pixel.

        The question and the answer are derived from ``audit`` alone, and every field ``clips`` reads is checked:
        present, of the right type, inside the video (``video``: its frame count and clock; ``ctx``: the pool of
        videos a task may borrow from); ValueError naming the field (``start: ...``) otherwise. What the validator
        compares with a row's stored question and ground truth. None: the task cannot re-derive its drafts (the
        default; the validator then checks the row's ground truth alone).
        """
        return None

    def render(self, draft: Draft, video: VideoRecord, ctx: TaskContext) -> Sample:
        """The sample a draft describes, with its pixels."""
        return Sample(task=self.name, data_source=self.data_source, video_id=draft.video_id,
                      question=draft.question, answer=draft.answer, clips=self.clips(video, ctx, draft.params),
                      params=draft.params)

    def make_sample(self, video: VideoRecord, rng: np.random.Generator, params: Any, ctx: TaskContext) -> Sample:
        """One sample of this task on ``video``: ``draw`` then ``render`` (see the module docstring)."""
        return self.render(self.draw(video, rng, params, ctx), video, ctx)

    # --- the answer ------------------------------------------------------------------------------------------

    @abstractmethod
    def format_answer(self, truth: Any) -> str:
        """The exact answer string of ``truth`` (what ``parse_gold`` reads back)."""

    @abstractmethod
    def _parse_gold(self, gold: str) -> Any:
        """``gold`` (a str) -> truth; raise ValueError naming it if it is not a valid answer of this task."""

    @abstractmethod
    def parse_answer(self, text: str, truth: Any) -> Any | None:
        """The prediction a model output ``text`` states, or None if it states none (or several)."""

    @abstractmethod
    def score(self, pred: Any, truth: Any, mode: str) -> float:
        """The score in [0, 1] of a parsed prediction in ``mode`` (``"smooth"`` or ``"strict"``): the task's formula
        from ``videossr.tasks.metrics``, the one place it is written."""

    def parse_gold(self, gold: object) -> Any:
        """The truth an answer string states; ValueError naming ``gold`` if it is not a valid answer of this task."""
        if not isinstance(gold, str):
            raise ValueError(f"{self.name} ground truth must be a string, got {type(gold).__name__} {gold!r}")
        return self._parse_gold(gold)

    def score_text(self, text: object, gold: object, mode: str = "smooth") -> Score:
        """Score a model output against an answer string: what the verl reward and VIUBench both call.

        An output that states no prediction scores 0 (``format_ok`` False). Raises ValueError for an invalid
        ``gold`` or ``mode``.
        """
        check_mode(mode)
        truth = self.parse_gold(gold)
        pred = self.parse_answer(text if isinstance(text, str) else "", truth)
        if pred is None:
            return UNPARSED
        strict = float(self.score(pred, truth, "strict"))
        value = strict if mode == "strict" else float(self.score(pred, truth, "smooth"))
        return Score(value, True, strict, pred)

    def check_gold(self, gold: object) -> None:
        """Raise ValueError naming ``gold`` unless it parses and scores 1.0 against itself in both modes.

        Generation guarantees it for every answer it writes; the validator checks it for every row.
        """
        self.parse_gold(gold)
        for mode in MODES:
            value = self.score_text(gold, gold, mode).value
            if value != 1.0:
                raise ValueError(f"{self.name} ground truth {gold!r} scores {value} against itself in {mode} mode")

    # --- how hard it is -----------------------------------------------------------------------------------------

    def difficulty(self, audit: Mapping[str, Any]) -> str:
        """A short label of the difficulty setting a sample with audit info ``audit`` was drawn at (for reports)."""
        return "-"

    # --- the difficulty ladder and the sweep grid ----------------------------------------------------------------

    grid_flags: ClassVar[tuple[GridFlag, ...]] = ()

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """The task's difficulty settings from easiest to hardest, the paper's marked (exactly one). The default is
        a one-rung ladder, the default preset: a task that declares nothing stays where the paper put it."""
        return (Rung(self.default_preset, self.default_params, paper=True),)

    def paper_rung(self) -> int:
        """The index of the paper's rung in ``ladder``."""
        marked = [i for i, r in enumerate(self.ladder) if r.paper]
        if len(marked) != 1:
            raise ValueError(f"task {self.name!r}: its ladder must mark exactly one rung as the paper's, got {marked}")
        return marked[0]

    def nearest_rung(self, params: Any) -> int:
        """The ladder rung whose Params share the most field values with ``params`` (the easier one on ties)."""
        names = [f.name for f in dataclasses.fields(self.Params)]
        alike = [sum(getattr(r.params, n) == getattr(params, n) for n in names) for r in self.ladder]
        return alike.index(max(alike))

    def sweep_grid(self, **options: Any) -> list[GridPoint]:
        """The settings the difficulty sweep measures; ``options`` come from ``grid_flags``. Default: the ladder,
        one family (the sweep picks one rung)."""
        if options:
            raise ValueError(f"task {self.name!r} takes no sweep grid options, got {sorted(options)}")
        return [GridPoint(r.label, self.name, r.params) for r in self.ladder]

    def guess(self, rng: np.random.Generator, audit: Mapping[str, Any]) -> str:
        """An answer string drawn uniformly from the answer space of a sample with audit info ``audit``.

        What a model that saw nothing would answer, knowing only the answer format and the sizes the question
        states (counts up to F*K, n clips, a segment of the video); its expected score is the chance level.
        """
        raise NotImplementedError(f"task {self.name!r} has no uniform guesser")

    # --- looking at it ---------------------------------------------------------------------------------------

    def preview(self, params: Mapping[str, Any]) -> Preview:
        """What a contact sheet marks on a sample with audit info ``params`` (nothing, unless overridden)."""
        return Preview()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} data_source={self.data_source!r}>"
