"""The curriculum inside the training stage: verl's dataset class draws at the current rungs (through verl's data
loader and its worker processes), the dry run proves every rung on the frame store, train.sh wires the hooks, and
verl's own loaders find the replay buffer and the checkpoint callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from videossr.datasets.build import BuildConfig, build
from videossr.tasks import get_task
from videossr.training import curriculum
from videossr.training.curriculum import Group, check_ladders
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recipes(tmp_path_factory):
    root = tmp_path_factory.mktemp("curriculum")
    make_frame_store(root / "store", num_videos=2, num_frames=48, width=64, height=48, duration=12.0)
    build(BuildConfig(output_dir=root / "out", frames_dir=root / "store", num_samples=9, seed=3), progress=False)
    return root


@pytest.fixture
def fresh_process_curriculum():
    curriculum.deactivate()
    yield
    curriculum.deactivate()


def _config(tmp_path, **curriculum_options):
    return OmegaConf.create({"max_prompt_length": 100000, "filter_overlong_prompts": False, "image_patch_size": 16,
                             "filter_overlong_prompts_workers": None, "cache_dir": str(tmp_path / "cache"),
                             "videossr": {"curriculum": {"enable": True, **curriculum_options}}})


def test_dataset_draws_at_the_current_rung_through_verls_loader(recipes, tiny_qwen3vl, tmp_path,
                                                                fresh_process_curriculum):
    from torchdata.stateful_dataloader import StatefulDataLoader
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import collate_fn

    from videossr.training.dataset import VideoSSRDataset

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    files = str(recipes / "out" / "train.parquet")
    train = VideoSSRDataset(files, processor.tokenizer, _config(tmp_path, hysteresis=1, min_steps=1), processor)
    val = VideoSSRDataset(files, processor.tokenizer, _config(tmp_path), processor)
    assert train.curriculum is curriculum.active() and val.curriculum is None  # the first dataset claims it

    def load(num_workers: int) -> list[tuple[str, int, str, dict, int, str]]:
        loader = StatefulDataLoader(train, batch_size=3, num_workers=num_workers, collate_fn=collate_fn)
        out = []
        for b in loader:
            for k in range(len(b["index"])):
                extra = b["extra_info"][k]
                user = next(m["content"] for m in b["raw_prompt"][k] if m["role"] == "user")
                n_videos = sum(1 for part in user if isinstance(part, dict) and part.get("type") == "video")
                out.append((extra["task"], extra[curriculum.RUNG_KEY], extra[curriculum.LABEL_KEY],
                            json.loads(extra["params"]), n_videos, b["reward_model"][k]["ground_truth"]))
        return out

    first = load(num_workers=0)
    assert {t for t, *_ in first} == {"grounding", "counting", "jigsaw"}
    for task, rung, label, params, n_videos, gold in first:
        t = get_task(task)
        assert rung == t.paper_rung() and label == t.ladder[rung].label
        t.check_gold(gold)

    # every task fails everything: one rung down each; worker processes started afterwards see the new rungs
    train.curriculum.observe(1, [Group(t, get_task(t).paper_rung(), (0.0, 0.0), (0.0, 0.0))
                                 for t in ("grounding", "counting", "jigsaw")])
    second = load(num_workers=2)
    for task, rung, label, params, n_videos, gold in second:
        t = get_task(task)
        assert rung == t.paper_rung() - 1 and label == t.ladder[rung].label
        t.check_gold(gold)
        if task == "jigsaw":  # fewer clips: one <video> per clip, as many as the rung's clip count
            assert params["num_clips"] == t.ladder[rung].params.num_clips == n_videos == len(gold)
        if task == "counting":
            cap = t.ladder[rung].params.max_frames_per_class * t.ladder[rung].params.max_instances
            assert all(int(c) <= cap for c in gold.split(","))
    assert sorted(train.state_dict()["loads"].tolist()) == [2] * len(train)  # each drawn twice, fresh each time

    # the validation set draws its rows as built
    item = val[0]
    assert curriculum.RUNG_KEY not in item["extra_info"] and item["extra_info"]["epoch"] == 0


def _rows(video_ids, task, root):
    return [{"extra_info": {"task": task, "video_id": v, "recipe": json.dumps({"frames_root": str(root)})}}
            for v in video_ids]


def _score(data_source, answer, truth):
    from videossr.rewards import compute_score

    return compute_score(data_source, answer, truth)["score"]


def test_check_ladders_proves_every_rung(recipes):
    rows = pq.read_table(recipes / "out" / "train.parquet", columns=["extra_info"]).to_pylist()
    checked, notes = check_ladders(rows, _score)
    assert notes == []
    for name, n in checked.items():
        videos = {r["extra_info"]["video_id"] for r in rows if r["extra_info"]["task"] == name}
        assert n == len(get_task(name).ladder) * len(videos)


def test_check_ladders_names_what_cannot_train(tmp_path):
    short = make_frame_store(tmp_path / "short", num_videos=1, num_frames=20, width=64, height=48, duration=10.0)
    with pytest.raises(ValueError, match=r"counting rung F4K4: no video of .* takes it"):
        check_ladders(_rows([short[0].video_id], "counting", tmp_path / "short"), _score)
    with pytest.raises(ValueError, match=r"jigsaw rung 3clips: no video"):
        check_ladders(_rows([short[0].video_id], "jigsaw", tmp_path / "short"), _score)
    # one video of two cannot take a rung: noted, not refused
    long = make_frame_store(tmp_path / "mixed", num_videos=1, num_frames=48, width=64, height=48, duration=12.0)
    make_frame_store(tmp_path / "mixed_short", num_videos=1, num_frames=20, width=64, height=48, duration=10.0)
    _, notes = check_ladders(_rows([long[0].video_id], "counting", tmp_path / "mixed"), _score)
    assert notes == []
    with pytest.raises(ValueError, match="scores 0.0, not 1.0"):
        check_ladders(_rows([long[0].video_id], "counting", tmp_path / "mixed"), lambda *a: 0.0)


def test_verl_loads_the_replay_buffers_by_their_configured_names():
    pytest.importorskip("transfer_queue", reason="verl's v1 replay buffer needs TransferQueue (the smoke's env)")
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync
    from verl.utils.import_utils import load_extern_type

    for name, base in (("CurriculumReplayBuffer", ReplayBuffer), ("CurriculumReplayBufferAsync", ReplayBufferAsync)):
        cls = load_extern_type("pkg://videossr.training.curriculum_verl", name)
        assert issubclass(cls, base)


def test_verl_loads_the_checkpoint_callback_by_its_configured_name(tmp_path, fresh_process_curriculum):
    from verl.trainer.ppo.checkpoint_callback import build_checkpoint_callback

    config = OmegaConf.create({"trainer": {
        "checkpoint_callback_class": "videossr.training.curriculum_verl.CurriculumCheckpoint"}})
    callback = build_checkpoint_callback(config)
    callback.on_save(trainer=None, global_step=1, checkpoint_dir=str(tmp_path / "a"))  # no curriculum: nothing
    assert not (tmp_path / "a").exists()
    cur = curriculum.Curriculum(curriculum.CurriculumSettings(enable=True))
    curriculum.activate(cur)
    callback.on_save(trainer=None, global_step=4, checkpoint_dir=str(tmp_path / "global_step_4"))
    state = json.loads((tmp_path / "global_step_4" / curriculum.STATE_NAME).read_text())
    assert state["rungs"] == cur.controller.labels()


def _train_sh(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DRY_RUN", "SMOKE", "MODEL_PATH", "DATA_DIR",
                                                            "TRAIN_FILES", "VAL_FILES", "OUTPUT_DIR", "CURRICULUM")}
    env.update(PYTHON=sys.executable, **env_extra)
    return subprocess.run(["bash", str(REPO / "train" / "train.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_train_sh_curriculum_dry_run_and_wiring(recipes, tiny_qwen3vl, tmp_path):
    env = {"MODEL_PATH": str(tiny_qwen3vl), "DATA_DIR": str(recipes / "out"), "OUTPUT_DIR": str(tmp_path / "out"),
           "HF_HOME": str(tmp_path / "hf"), "N_GPUS_PER_NODE": "4", "CURRICULUM": "1", "DRY_RUN_ROWS": "2"}
    p = _train_sh(env, "--dry-run", "data.filter_overlong_prompts=false", "data.dataloader_num_workers=0")
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout[-3000:]
    assert "DRY RUN OK" in p.stdout and "note: curriculum ladders: every rung drew samples" in p.stdout
    # the recipe's 64 prompts per step, one per loader batch (CURRICULUM=1's gen_batch_size), no workers: no lag
    assert ("curriculum decision lag: a decision after step s reaches 64 of step s+1's 64 prompts "
            "(data.gen_batch_size=1, 0 loader worker(s)") in p.stdout
    p = _train_sh(env, "--dry-run", "data.filter_overlong_prompts=false", "data.gen_batch_size=null")
    assert p.returncode == 0, p.stderr[-3000:] + p.stdout[-3000:]
    assert ("reaches 0 of step s+1's 64 prompts, all of step s+9's (data.gen_batch_size=None, 4 loader worker(s), "
            "prefetch 2); data.gen_batch_size=1 would make it at most 2 steps") in p.stdout
    p = _train_sh(env, "data.videossr.curriculum.low=0.1", "--cfg", "job")
    assert p.returncode == 0, p.stderr[-3000:]
    for line in ("enable: true", "name: CurriculumReplayBuffer", "path: pkg://videossr.training.curriculum_verl",
                 "checkpoint_callback_class: videossr.training.curriculum_verl.CurriculumCheckpoint", "low: 0.1",
                 "gen_batch_size: 1"):
        assert line in p.stdout, line
    p = _train_sh({k: v for k, v in env.items() if k != "CURRICULUM"}, "--cfg", "job")
    assert p.returncode == 0 and "custom_sampler" in p.stdout and "CurriculumReplayBuffer" not in p.stdout
    assert "checkpoint_callback_class: null" in p.stdout


def test_train_sh_curriculum_needs_recipe_rows(recipes, tiny_qwen3vl, tmp_path):
    build(BuildConfig(output_dir=tmp_path / "frames", frames_dir=recipes / "store", num_samples=3, seed=3,
                      materialize=True), progress=False)
    p = _train_sh({"MODEL_PATH": str(tiny_qwen3vl), "DATA_DIR": str(tmp_path / "frames"), "CURRICULUM": "1",
                   "OUTPUT_DIR": str(tmp_path / "out")}, "--dry-run")
    assert p.returncode != 0 and "CURRICULUM=1 needs recipe rows" in p.stderr
