"""The rewards inside stock verl: loaded from config by verl's loader, run by verl's reward loop worker on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videossr.training.launch import compose_config
from videossr.rewards import RESULT_KEYS, compute_score

RECIPE_DIR = Path(__file__).resolve().parents[1] / "verl"


@pytest.fixture(scope="module")
def base_overrides(tiny_qwen3vl):
    return [f"actor_rollout_ref.model.path={tiny_qwen3vl}"]


def test_verl_loads_our_function_from_config(base_overrides):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = compose_config(RECIPE_DIR, "videossr_grpo", base_overrides)
    assert cfg.reward.custom_reward_function.path == "pkg://videossr.rewards"
    fn = get_custom_reward_fn(cfg)
    assert fn is not None
    assert fn.args[0] is compute_score  # verl wraps the raw function with the configured reward_kwargs
    r = fn(data_source="shuffled", solution_str="431562", ground_truth="341562", extra_info={"index": 0})
    assert r == {"score": pytest.approx(1 - 2 / 18), "format_ok": 1.0, "strict": 0.0, "task_id": 2.0, "gold_ok": 1.0}


def test_reward_mode_from_config(base_overrides):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = compose_config(
        RECIPE_DIR, "videossr_grpo", base_overrides + ["+reward.custom_reward_function.reward_kwargs.mode=strict"]
    )
    fn = get_custom_reward_fn(cfg)
    assert fn(data_source="videossr_jigsaw", solution_str="431562", ground_truth="341562")["score"] == 0.0
    assert fn(data_source="videossr_counting", solution_str="3,1,5", ground_truth="3,1,4")["score"] == pytest.approx(
        2 / 3
    )


def test_file_path_form_also_loads(base_overrides):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    path = Path(__file__).resolve().parents[1] / "videossr" / "rewards" / "__init__.py"
    cfg = compose_config(
        RECIPE_DIR, "videossr_grpo", base_overrides + [f"reward.custom_reward_function.path={path}"]
    )
    fn = get_custom_reward_fn(cfg)
    assert fn(data_source="videossr_grounding", solution_str="1.0-2.0", ground_truth="1.0-2.0")["score"] == 1.0


def test_old_top_level_key_is_not_what_verl_reads(base_overrides):
    """The pre-0.9 key still composes, but verl's loader reads reward.custom_reward_function only."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = compose_config(
        RECIPE_DIR,
        "videossr_grpo",
        base_overrides
        + ["custom_reward_function.path=pkg://videossr.rewards", "reward.custom_reward_function.path=null"],
    )
    assert get_custom_reward_fn(cfg) is None


def _decoded_batch(tokenizer, prompts, responses, data_sources, ground_truths):
    """A DataProto shaped like a rollout's output: left-padded prompts, right-padded responses."""
    from verl import DataProto

    pad = tokenizer.pad_token_id
    p_ids = [tokenizer.encode(p, add_special_tokens=False) for p in prompts]
    r_ids = [tokenizer.encode(r, add_special_tokens=False) + [tokenizer.eos_token_id] for r in responses]
    P, R = max(map(len, p_ids)), max(map(len, r_ids))
    prompt_t = torch.full((len(prompts), P), pad, dtype=torch.long)
    resp_t = torch.full((len(prompts), R), pad, dtype=torch.long)
    mask = torch.zeros((len(prompts), P + R), dtype=torch.long)
    for i, (p, r) in enumerate(zip(p_ids, r_ids)):
        prompt_t[i, P - len(p) :] = torch.tensor(p)
        resp_t[i, : len(r)] = torch.tensor(r)
        mask[i, P - len(p) : P] = 1
        mask[i, P : P + len(r)] = 1
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_t,
            "responses": resp_t,
            "input_ids": torch.cat([prompt_t, resp_t], dim=1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array(data_sources, dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": g} for g in ground_truths], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(prompts))], dtype=object),
        },
    ), [len(r) for r in r_ids]


def test_verl_reward_loop_scores_a_mixed_batch_on_cpu(base_overrides, tiny_qwen3vl):
    """verl's own RewardLoopWorker (naive manager, our function) scores decoded responses; the score lands on the
    last response token, and the metric columns line up across VideoSSR tasks and a verl-native data source."""
    from verl.experimental.reward_loop import RewardLoopWorker

    cfg = compose_config(RECIPE_DIR, "videossr_grpo", base_overrides)
    worker = RewardLoopWorker(cfg)  # the class verl runs as a Ray actor; called in-process here
    assert type(worker.reward_manager).__name__ == "NaiveRewardManager"

    cases = [
        ("videossr_grounding", "The answer is 3.0-4.5.", "3.0-5.0", 0.75),
        ("grounding", "no idea", "3.0-5.0", 0.0),
        ("videossr_counting", "3, 1, 5", "3,1,4", (2 + 0.75) / 3),
        ("shuffled", "431562", "341562", 1 - 2 / 18),
        ("videossr_jigsaw", "<answer>341562</answer>", "341562", 1.0),
        ("openai/gsm8k", "so #### 42", "42", 1.0),  # falls back to verl's default scorer
        # broken rows: the batch is still scored, they get 0 and gold_ok 0 (the run continues)
        ("videossr_grounding", "1.0-2.0", "1.0-2.0-3.0", 0.0),
        ("VIDEOSSR_JIGSAW ", "341562", "341562", 1.0),
        ("no_such_source", "1", "1", 0.0),
    ]
    sources, responses, gts, expected = zip(*cases)
    data, resp_lens = _decoded_batch(worker.input_tokenizer, ["Q: " * (i + 1) for i in range(len(cases))],
                                     responses, sources, gts)

    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))

    # what RewardLoopManager.compute_rm_score does with the outputs
    scores = [o["reward_score"] for o in outputs]
    assert scores == pytest.approx(list(expected))
    rm_scores = worker.reward_manager.assemble_rm_scores(data, scores)
    for i, n in enumerate(resp_lens):
        assert rm_scores[i, n - 1].item() == pytest.approx(expected[i])
        assert torch.count_nonzero(rm_scores[i, : n - 1]) == 0 and torch.count_nonzero(rm_scores[i, n:]) == 0
    infos = [o["reward_extra_info"] for o in outputs]
    keys = list(infos[0])
    assert sorted(keys) == sorted(RESULT_KEYS)
    columns = {k: np.array([info[k] for info in infos]) for k in keys}  # KeyError here = a crashed training step
    assert columns["format_ok"].tolist() == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    assert columns["task_id"].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0, -1.0, 0.0, 2.0, -1.0]
    assert columns["gold_ok"].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    assert columns["score"].dtype == np.float64
