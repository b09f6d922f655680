"""The curriculum's two hooks into stock verl 0.9: its replay buffer (feedback, metrics) and its checkpoints.

* ``CurriculumReplayBuffer`` (``trainer.v1.sampler.custom_sampler``; ``CurriculumReplayBufferAsync`` for the async
  trainer modes): verl's own replay buffer, unchanged, plus one thing after each training batch is sampled: it reads
  the batch's scored trajectories from verl's TransferQueue (reward, the reward's ``strict`` key, the sample's
  ``extra_info`` with the rung it was drawn at), groups them by prompt, and hands the groups to the process's
  curriculum (``videossr.training.curriculum.active()``), whose decision the data loader's next samples follow. The
  curriculum's figures (per task: rung, zero-variance share, mean reward, strict success, ...) go back as the
  sampler's metrics, which verl's trainer logs with the step's other metrics to every logger it runs.
* ``CurriculumCheckpoint`` (``trainer.checkpoint_callback_class``): after verl writes ``global_step_N/``, writes
  the curriculum's state next to it (``curriculum.json``). Loading happens earlier, when the training set is built
  (``VideoSSRDataset``), so the first samples of a resumed run are already drawn at the saved rungs.

Why these hooks: the replay buffer is the one place in verl 0.9's v1 trainer that sees whole GRPO groups with their
rewards, in the trainer process, before they are trained on, once per step; its ``sample`` returns metrics that the
trainer logs. verl's sampler hook (``create_rl_sampler``) builds only Random/Sequential samplers, and a reward function
sees one response at a time in a reward worker, without its group.

``train/train.sh`` sets all three keys with ``CURRICULUM=1``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from videossr.tasks import task_for_source
from videossr.training import curriculum
from videossr.training.curriculum import Group

logger = logging.getLogger(__name__)

# What is read back per trajectory: the reward (token-level, summed), the reward function's extra keys, the row's
# data_source and extra_info (the agent loop stores every field of the prompt row with its trajectories).
FIELDS = ("rm_scores", "extra_fields", "data_source", "extra_info")


def groups_from_records(records: Sequence[Mapping[str, Any]]) -> list[Group]:
    """GRPO groups from trajectory records ``{"uid", "score", "strict", "data_source", "extra_info"}``.

    Records of one uid form a group, in order of first appearance. A record whose data_source is no task's, or whose
    sample carries no rung tag, belongs to rung -1 of its task (or is left out without a task). A missing strict
    score counts as 0.
    """
    by_uid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for rec in records:
        by_uid[str(rec["uid"])].append(rec)
    groups = []
    for recs in by_uid.values():
        first = recs[0]
        extra = first.get("extra_info") or {}
        task = task_for_source(first.get("data_source"))
        if task is None:
            continue
        rung = extra.get(curriculum.RUNG_KEY, -1) if isinstance(extra, Mapping) else -1
        groups.append(Group(task.name, int(rung) if rung is not None else -1,
                            tuple(float(r["score"]) for r in recs),
                            tuple(float(r.get("strict") or 0.0) for r in recs)))
    return groups


def _plain(value: Any) -> Any:
    """A TransferQueue value as plain Python (NonTensorData / tensors unwrapped)."""
    value = getattr(value, "data", value)
    if hasattr(value, "tolist") and not isinstance(value, (dict, list, str)):
        value = value.tolist()
    return value


def read_records(keys: Sequence[str], tags: Sequence[Mapping[str, Any]], partition_id: str) -> list[dict[str, Any]]:
    """The trajectory records of a sampled batch, read from verl's TransferQueue (padding entries left out)."""
    import transfer_queue as tq

    keep = [k for k, tag in zip(keys, tags) if not tag.get("is_padding", False)]
    if not keep:
        return []
    data = tq.kv_batch_get(keys=keep, partition_id=partition_id, select_fields=list(FIELDS))
    scores = [float(v.sum().item()) for v in data["rm_scores"]]
    columns = {name: [_plain(v) for v in data[name]] for name in ("extra_fields", "data_source", "extra_info")}
    records = []
    for i, key in enumerate(keep):
        extra_fields = columns["extra_fields"][i] or {}
        info = extra_fields.get("reward_extra_info", {}) if isinstance(extra_fields, Mapping) else {}
        records.append({"uid": key.split("_")[0], "score": scores[i], "strict": _plain(info.get("strict")),
                        "data_source": columns["data_source"][i], "extra_info": columns["extra_info"][i]})
    return records


class _CurriculumFeedback:
    """The mixin: after verl's own ``sample`` of a training batch, feed its groups to the curriculum."""

    def sample(self, global_steps: int, partition_id: str, batch_size: int):
        batch, metrics = super().sample(global_steps=global_steps, partition_id=partition_id, batch_size=batch_size)
        active = curriculum.active()
        if partition_id == "train" and active is not None:
            groups = groups_from_records(read_records(batch.keys, batch.tags, batch.partition_id))
            metrics = {**metrics, **active.observe(int(global_steps), groups)}
        return batch, metrics


try:  # verl (with its TransferQueue) is there when training; groups_from_records works without it
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync
except ImportError:  # pragma: no cover - exercised only without verl / transfer_queue installed
    pass
else:

    class CurriculumReplayBuffer(_CurriculumFeedback, ReplayBuffer):
        """verl's synchronous replay buffer with the curriculum's feedback (``trainer.v1.trainer_mode=sync``)."""

    class CurriculumReplayBufferAsync(_CurriculumFeedback, ReplayBufferAsync):
        """verl's asynchronous replay buffer with the curriculum's feedback (the async trainer modes)."""


try:
    from verl.trainer.ppo.checkpoint_callback import CheckpointCallback
except ImportError:  # pragma: no cover - exercised only without verl installed
    pass
else:

    class CurriculumCheckpoint(CheckpointCallback):
        """Writes the curriculum's state into each checkpoint folder verl saves."""

        def on_save(self, trainer=None, global_step: int = 0, checkpoint_dir: str = "", async_save: bool = False,
                    **kwargs) -> None:
            active = curriculum.active()
            if active is not None and checkpoint_dir:
                path = active.save(checkpoint_dir)
                logger.info("curriculum state of step %d -> %s", global_step, path)
