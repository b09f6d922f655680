"""One bad row never ends training: rows that fail while verl loads them are named, counted and replaced by a
deterministic substitute; the run stops, naming the first ones, only past the failure threshold; verl's start-up
filter never shrinks or empties the data silently. Everything through verl's own dataset machinery and data loader,
worker processes included."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from support.frames import make_frame_store
from videossr.datasets.build import BuildConfig, build
from videossr.datasets.validate import validate_files
from videossr.tasks.recipe import make_row
from videossr.tasks.sample import write_parquet
from videossr.training.dataset import RowLoadError, VideoSSRDataset


@pytest.fixture
def built(tmp_path):
    """A fresh recipe build of 20 rows (the tests damage its frame store)."""
    make_frame_store(tmp_path / "store", num_videos=3, num_frames=48, width=64, height=48, duration=12.0)
    build(BuildConfig(output_dir=tmp_path / "out", frames_dir=tmp_path / "store", num_samples=20, seed=4),
          progress=False)
    assert validate_files([tmp_path / "out" / "train.parquet"]).ok
    return tmp_path


@pytest.fixture(scope="module")
def processor(tiny_qwen3vl):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_qwen3vl)


def _config(tmp_path: Path, **videossr) -> OmegaConf:
    return OmegaConf.create({"max_prompt_length": 100000, "filter_overlong_prompts": False, "image_patch_size": 16,
                             "filter_overlong_prompts_workers": None, "cache_dir": str(tmp_path / "cache"),
                             "videossr": videossr})


def _dataset(path: Path, processor, tmp_path: Path, **videossr) -> VideoSSRDataset:
    return VideoSSRDataset(str(path), processor.tokenizer, _config(tmp_path, **videossr), processor)


def _epoch(dataset: VideoSSRDataset, workers: int = 2) -> list[tuple[int, str, str]]:
    """One epoch through verl's collate function and the stateful data loader verl uses: (index, substitute_for,
    ground truth) of every item, in order."""
    from torchdata.stateful_dataloader import StatefulDataLoader
    from verl.utils.dataset.rl_dataset import collate_fn

    loader = StatefulDataLoader(dataset, batch_size=4, num_workers=workers, collate_fn=collate_fn, shuffle=False)
    out = []
    for batch in loader:
        for k in range(len(batch["index"])):
            out.append((int(batch["index"][k]), batch["extra_info"][k].get("substitute_for", ""),
                        batch["reward_model"][k]["ground_truth"]))
    return out


def _rows_on(video_frames: list[Path], rows: list[dict]) -> list[int]:
    """Positions of the rows that show any of ``video_frames`` (as a source frame or perturbed from one)."""
    names = {str(f.resolve()) for f in video_frames}
    return [i for i, r in enumerate(rows) if names & {f for v in r["videos"] for f in v["video"]}]


def test_a_store_damaged_after_validation_finishes_its_epoch_with_the_failures_counted(built, processor, tmp_path):
    train = built / "out" / "train.parquet"
    rows = pq.read_table(train).to_pylist()
    frames = sorted((built / "store" / "synthetic_001").glob("*.jpg"))
    cut, gone = frames[10], frames[30]
    bad = _rows_on([cut, gone], rows)
    assert 0 < len(bad) < len(rows)
    cut.write_bytes(cut.read_bytes()[:200])  # after validation: a frame cut short ...
    gone.unlink()  # ... and one deleted

    dataset = _dataset(train, processor, tmp_path, tolerated_failures=100)
    items = _epoch(dataset)
    assert len(items) == len(rows)  # the epoch finishes, every item delivered
    failures = dataset.load_failures()
    assert failures["loads"] == len(rows) and failures["failures"] >= len(bad)
    assert sorted(failures["rows"], key=lambda w: int(w.rsplit(" ", 1)[1])) == [f"{train} row {i}" for i in bad]
    substituted = {s for _, s, _ in items if s}
    assert substituted == {f"{train} row {i}" for i in bad}
    # no item shows a damaged frame: every delivered row is one of the rows that load
    by_index = {r["extra_info"]["index"]: i for i, r in enumerate(rows)}
    assert not {by_index[index] for index, _, _ in items} & set(bad)

    # deterministic: a second run (a resumed one) sees the same data
    again = _dataset(train, processor, tmp_path, tolerated_failures=100)
    assert _epoch(again, workers=1) == items


def test_a_substitute_is_the_next_row_that_loads_and_the_error_names_file_and_row(built, processor, tmp_path,
                                                                                   caplog):
    train = built / "out" / "train.parquet"
    rows = pq.read_table(train).to_pylist()
    dataset = _dataset(train, processor, tmp_path, check_frames=False)
    target = next(i for i, r in enumerate(rows) if r["extra_info"]["task"] == "grounding")
    store_frames = sorted((built / "store" / rows[target]["extra_info"]["video_id"]).glob("*.jpg"))
    for f in store_frames:  # every frame of its video cut short: the perturbation cannot read them
        f.write_bytes(f.read_bytes()[:150])

    def loads(i: int) -> bool:
        try:
            make_row(rows[i])
        except OSError:
            return False
        return True

    assert not loads(target)
    expected = next((target + k) % len(rows) for k in range(1, len(rows)) if loads((target + k) % len(rows)))
    with caplog.at_level(logging.ERROR, logger="videossr.training.dataset"):
        item = dataset[target]
    assert item["extra_info"]["index"] == rows[expected]["extra_info"]["index"]
    assert item["extra_info"]["substitute_for"] == f"{train} row {target}"
    assert f"{train} row {target} failed to load (OSError: " in caplog.text
    assert "truncated" in caplog.text.lower()
    assert caplog.text.count(f"row {target} failed") == 1
    dataset[target]  # the same row failing again is counted, not logged again
    assert caplog.text.count(f"row {target} failed") == 1
    assert dataset.load_failures()["failures"] >= 2


def test_too_many_failures_stop_the_run_naming_the_first_ones(built, processor, tmp_path):
    train = built / "out" / "train.parquet"
    shutil.rmtree(built / "store" / "synthetic_000")  # a third of the rows' frames gone
    dataset = _dataset(train, processor, tmp_path, tolerated_failures=2, max_failed_fraction=0.01)
    with pytest.raises(RowLoadError, match=rf"failed loads in \d+ items, more than data.videossr.max_failed_fraction"
                                           rf"=0.01 .* the first rows that failed: {train} row \d+"):
        _epoch(dataset)


def test_the_threshold_is_a_setting(built, processor, tmp_path):
    train = built / "out" / "train.parquet"
    shutil.rmtree(built / "store" / "synthetic_000")
    dataset = _dataset(train, processor, tmp_path, tolerated_failures=2, max_failed_fraction=0.9)
    assert len(_epoch(dataset, workers=0)) == len(dataset)
    with pytest.raises(ValueError, match="max_failed_fraction must be in"):
        _dataset(train, processor, tmp_path, max_failed_fraction=2)


def _two_rows(built: Path) -> Path:
    """A file of two rows on different videos."""
    rows = pq.read_table(built / "out" / "train.parquet").to_pylist()
    rows = [rows[0], next(r for r in rows if r["extra_info"]["video_id"] != rows[0]["extra_info"]["video_id"])]
    path = built / "two.parquet"
    write_parquet(rows, path)
    return path


def test_the_start_up_filter_never_drops_unreadable_rows_silently(built, processor, tmp_path):
    path = _two_rows(built)
    rows = pq.read_table(path).to_pylist()
    shown = [{f for v in r["videos"] for f in v["video"]} for r in rows]
    Path(sorted(shown[1] - shown[0])[0]).unlink()  # a frame row 1 shows and row 0 does not
    config = _config(tmp_path)
    config.filter_overlong_prompts = True
    with pytest.raises(RowLoadError, match=rf"1 of 2 rows cannot be read \(verl's start-up filter would drop them "
                                           rf"silently\): {path} row 1: "):
        VideoSSRDataset(str(path), processor.tokenizer, config, processor)


def test_overlong_rows_are_an_error_unless_dropping_them_is_asked_for(built, processor, tmp_path, caplog):
    path = _two_rows(built)
    config = _config(tmp_path)
    config.filter_overlong_prompts = True
    config.max_prompt_length = 20
    with pytest.raises(RowLoadError, match=rf"2 of 2 rows have prompts longer than data.max_prompt_length=20 "
                                           rf"tokens: {path} row 0: \d+ tokens"):
        VideoSSRDataset(str(path), processor.tokenizer, config, processor)
    config.videossr.drop_overlong = True
    with pytest.raises(RowLoadError, match="none is left to train on"):
        VideoSSRDataset(str(path), processor.tokenizer, config, processor)


def test_an_empty_file_is_an_error(built, processor, tmp_path):
    empty = built / "empty.parquet"
    write_parquet([], empty)
    with pytest.raises(RowLoadError, match=rf"no rows in {empty}"):
        _dataset(empty, processor, tmp_path)
