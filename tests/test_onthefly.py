"""Samples made on the fly inside verl: recipe rows give the materialised build's pixels exactly, load through verl's
own dataset machinery and data loader (worker processes included), draw afresh each epoch when asked, and are
refused by the reward if loaded without the class that makes them."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf
from PIL import Image

from videossr.datasets.build import BuildConfig, build
from videossr.tasks.recipe import make_row
from videossr.training.dataset import VideoSSRDataset
from videossr.rewards import compute_score
from videossr.tasks.sample import rows_kind
from videossr.tasks import get_task
from support.frames import make_frame_store
from videossr.datasets.validate import validate_files

REPO = Path(__file__).resolve().parents[1]


def _pixels(frame: str) -> np.ndarray:
    if frame.startswith("data:image"):
        with Image.open(io.BytesIO(base64.b64decode(frame.split("base64,", 1)[1]))) as im:
            return np.asarray(im.convert("RGB"))
    with Image.open(frame) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The same mix, built both ways from one frame store with one seed."""
    root = tmp_path_factory.mktemp("otf")
    make_frame_store(root / "store", num_videos=3, num_frames=48, width=64, height=48, duration=12.0)
    common = dict(frames_dir=root / "store", num_samples=20, seed=4, counting_hard_fraction=0.5)
    build(BuildConfig(output_dir=root / "recipes", **common), progress=False)
    build(BuildConfig(output_dir=root / "frames", materialize=True, **common), progress=False)
    return root


def _rows(path: Path) -> dict[int, dict]:
    return {r["extra_info"]["index"]: r for r in pq.read_table(path).to_pylist()}


def test_recipe_build_writes_no_pixels(builds):
    assert rows_kind(builds / "recipes" / "train.parquet") == "recipes"
    assert rows_kind(builds / "frames" / "train.parquet") == "frames"
    assert not (builds / "recipes" / "frames").exists()
    meta = json.loads((builds / "recipes" / "metadata.json").read_text())
    assert meta["rows"] == "recipes" and meta["counts"]["new_frames"] == 0
    store = str((builds / "store").resolve())
    for r in _rows(builds / "recipes" / "train.parquet").values():
        assert all(f.startswith(store) for v in r["videos"] for f in v["video"])  # only the frame store
    assert validate_files([builds / "recipes" / "train.parquet"]).ok


def test_made_rows_are_pixel_identical_to_the_materialised_build(builds):
    recipes, frames = _rows(builds / "recipes" / "train.parquet"), _rows(builds / "frames" / "train.parquet")
    assert sorted(recipes) == sorted(frames)
    tasks_seen = set()
    for i, recipe_row in recipes.items():
        made, disk = make_row(recipe_row), frames[i]
        tasks_seen.add(made["extra_info"]["task"])
        assert made["prompt"] == disk["prompt"] and made["data_source"] == disk["data_source"]
        assert made["reward_model"] == disk["reward_model"]
        assert json.loads(made["extra_info"]["params"]) == json.loads(disk["extra_info"]["params"])
        assert len(made["videos"]) == len(disk["videos"])
        for a, b in zip(made["videos"], disk["videos"]):
            assert a["sample_fps"] == b["sample_fps"] and len(a["video"]) == len(b["video"])
            for fa, fb in zip(a["video"], b["video"]):
                assert np.array_equal(_pixels(fa), _pixels(fb))
    assert tasks_seen == {"grounding", "counting", "jigsaw"}


def _data_config(**extra):
    return OmegaConf.create({"max_prompt_length": 100000, "filter_overlong_prompts": True, "image_patch_size": 16,
                             "filter_overlong_prompts_workers": None, "cache_dir": "", **extra})


def test_through_verls_dataset_and_dataloader_with_workers(builds, tiny_qwen3vl, tmp_path):
    from qwen_vl_utils import process_vision_info
    from torchdata.stateful_dataloader import StatefulDataLoader
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset, collate_fn

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    config = _data_config(cache_dir=str(tmp_path / "cache"))
    otf = VideoSSRDataset(str(builds / "recipes" / "train.parquet"), processor.tokenizer, config, processor)
    disk = RLHFDataset(str(builds / "frames" / "train.parquet"), processor.tokenizer, config, processor)
    assert len(otf) == len(disk) == 20  # every row kept by verl's prompt-length filter
    loader = StatefulDataLoader(otf, batch_size=4, num_workers=2, collate_fn=collate_fn, shuffle=False)
    batches = list(loader)
    assert sum(len(b["raw_prompt"]) for b in batches) == len(otf)
    by_index = {int(b["index"][k]): b["raw_prompt"][k] for b in batches for k in range(len(b["index"]))}
    for i in range(len(disk)):
        item = disk[i]
        ours = by_index[int(item["index"])]
        _, videos_a = process_vision_info(ours, image_patch_size=16, return_video_metadata=True)
        _, videos_b = process_vision_info(item["raw_prompt"], image_patch_size=16, return_video_metadata=True)
        for (ta, ma), (tb, mb) in zip(videos_a, videos_b):
            assert ta.shape == tb.shape and bool((ta == tb).all()) and ma["fps"] == mb["fps"]
    for b in batches:
        assert all(e["made"] is True for e in b["extra_info"])


def test_fresh_draws_each_epoch(builds, tiny_qwen3vl, tmp_path):
    from torchdata.stateful_dataloader import StatefulDataLoader
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import collate_fn

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    config = _data_config(cache_dir=str(tmp_path / "cache"), videossr={"fresh_each_epoch": True},
                          filter_overlong_prompts=False)
    ds = VideoSSRDataset(str(builds / "recipes" / "train.parquet"), processor.tokenizer, config, processor)
    loader = StatefulDataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_fn, shuffle=True)
    seen: dict[int, list[tuple[int, str, str]]] = {}
    for _ in range(3):  # three epochs, worker processes started afresh each time
        for b in loader:
            for k in range(len(b["index"])):
                extra = b["extra_info"][k]
                seen.setdefault(int(b["index"][k]), []).append(
                    (extra["epoch"], extra["params"], b["reward_model"][k]["ground_truth"]))
    rows = {r["extra_info"]["index"]: r for r in pq.read_table(builds / "recipes" / "train.parquet").to_pylist()}
    for index, draws in seen.items():
        assert [d[0] for d in draws] == [0, 1, 2]  # one shared count across the worker processes
        assert len({d[1] for d in draws}) == 3  # never the same sample twice
        assert draws[0][2] == rows[index]["reward_model"]["ground_truth"]  # epoch 0 is the row as built
        again = make_row(rows[index], epoch=2)  # deterministic: the same (seed, task, index, epoch) stream
        assert again["extra_info"]["params"] == draws[2][1] and again["reward_model"]["ground_truth"] == draws[2][2]
        task = get_task(rows[index]["extra_info"]["task"])
        for _, _, gold in draws:
            task.check_gold(gold)
    assert ds.state_dict()["loads"].tolist() == [3] * len(ds)


def test_recipe_rows_loaded_by_the_plain_dataset_are_refused_by_the_reward(builds, tiny_qwen3vl, tmp_path):
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    plain = RLHFDataset(str(builds / "recipes" / "train.parquet"), processor.tokenizer,
                        _data_config(cache_dir=str(tmp_path / "cache"), filter_overlong_prompts=False), processor)
    item = plain[0]
    gold = item["reward_model"]["ground_truth"]
    r = compute_score(item["data_source"], gold, gold, extra_info=item["extra_info"])
    assert r["score"] == 0.0 and r["gold_ok"] == 0.0
    made = make_row(pq.read_table(builds / "recipes" / "train.parquet").to_pylist()[0])
    assert compute_score(made["data_source"], gold, made["reward_model"]["ground_truth"],
                         extra_info=made["extra_info"])["gold_ok"] == 1.0


def test_kind_command(builds):
    def kind(*files):
        return subprocess.run([sys.executable, "-m", "videossr.training.dataset", "kind", *map(str, files)],
                              capture_output=True, text=True, cwd=REPO).stdout.strip()

    assert kind(builds / "recipes" / "train.parquet") == "recipes"
    assert kind(builds / "frames" / "train.parquet", builds / "frames" / "jigsaw.parquet") == "frames"
    assert kind(builds / "frames" / "train.parquet", builds / "recipes" / "train.parquet") == "mixed"


def test_the_kind_is_read_from_the_rows_of_a_rewritten_file(builds, tmp_path):
    """pandas and pyarrow rewrites drop the schema metadata that says "recipes"; the kind still comes from the rows."""
    import pandas as pd

    source = builds / "recipes" / "train.parquet"
    by_pandas, by_pyarrow = tmp_path / "pandas.parquet", tmp_path / "pyarrow.parquet"
    pd.read_parquet(source).to_parquet(by_pandas)
    pq.write_table(pq.read_table(source).replace_schema_metadata(None), by_pyarrow)
    for path in (by_pandas, by_pyarrow):
        assert b"videossr.rows" not in (pq.read_schema(path).metadata or {})
        assert rows_kind(path) == "recipes"
    frames = builds / "frames" / "train.parquet"
    pd.read_parquet(frames).to_parquet(tmp_path / "frames.parquet")
    assert rows_kind(tmp_path / "frames.parquet") == "frames"
    # one file, both kinds: refused, naming the file
    rows = pq.read_table(source).to_pylist()
    rows[3]["extra_info"]["recipe"] = None
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mixed.parquet")
    with pytest.raises(ValueError, match=r"mixed.parquet: 19 of its 20 rows are recipe rows and the others are not"):
        rows_kind(tmp_path / "mixed.parquet")


FORBIDDEN = ("videossr.datasets", "videossr.procs", "videossr.sampling.sampler", "videossr.sampling.video",
             "videossr.evaluation")


@pytest.mark.parametrize("verl", [True, False], ids=["with-verl", "without-verl"])
def test_the_dataset_module_imports_only_what_making_a_sample_needs(verl):
    """A fresh interpreter: importing the dataset class loads the tasks, the frame store and recipes, never the build
    (its process pool and Ray executor), the decoders or the evaluation. verl itself imports Ray, so Ray is checked
    with verl kept out (the module's fallback): nothing of ours pulls it in."""
    block = "" if verl else "sys.modules['verl'] = None\n"
    code = (f"import sys\n{block}import videossr.training.dataset\n"
            "print('\\n'.join(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'videossr')))))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr
    loaded = p.stdout.split()
    assert "videossr.tasks.recipe" in loaded and "videossr.sampling.store" in loaded
    assert [m for m in loaded if m.startswith(FORBIDDEN)] == []
    if not verl:
        assert [m for m in loaded if m == "ray" or m.startswith("ray.")] == []
