"""The four benchmarks lmms-eval does not have, read from their releases: AoTBench, CVBench, ActivityNet Captions
(the original val_2) and TACoS (2D-TAN's test split). Prompts and scores on hand-written documents in the published
schema, each expected value worked out by hand from the official code's rules (quoted in each module's docstring);
then CVBench's several videos per question and TACoS through the command lines with the tiny Qwen3-VL."""

from __future__ import annotations

import json
import shutil

import pytest
from support.media import make_clip

from videossr.evaluation import cli
from videossr.evaluation.benchmarks import InputError
from videossr.evaluation.benchmarks.aotbench import SUBSETS
from videossr.evaluation.benchmarks.cvbench import is_yes_no, mvr_answer
from videossr.evaluation.benchmarks.published import MissingData
from videossr.evaluation.benchmarks.registry import get_benchmark
from videossr.evaluation.settings import EvalSettings
from videossr.io import read_jsonl

SMALL = ["--max-frames", "4", "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32), "--backend", "hf"]


# ----------------------------------------------------------------------------------------------------------------
# AoTBench


def _aot_root(tmp_path):
    root = tmp_path / "aot"
    sizes = {"ReverseFilm": 2, "UCF101": 2, "Rtime_t2v": 2, "Rtime_v2t": 2, "AoTBench_QA": 4}
    for subset, n in sizes.items():
        rows = [{"qa_idx": i, "video_name": f"{subset}/{i}.mp4",
                 "question": f"Is clip {i} reversed?\nA. forward\nB. backward\nAnswer with the option's letter.",
                 "ans": "AB"[i % 2]} for i in range(n)]
        path = root / "data_files" / "input" / f"{subset}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows))
    return root


def test_aotbench_first_character_and_subset_mean(tmp_path):
    bench = get_benchmark("AoTBench")(_aot_root(tmp_path))
    docs = bench.load_items()
    assert [d.id for d in docs][:3] == ["ReverseFilm/0", "ReverseFilm/1", "UCF101/0"]
    assert docs[0].videos == ("ReverseFilm/0.mp4",)
    assert bench.user_text(docs[0]) == docs[0].row["question"]  # the question text is the whole prompt
    outputs = {
        "ReverseFilm/0": "A", "ReverseFilm/1": "b",  # gold A, B: lmms right, wrong (case); strict right, right
        "UCF101/0": "A. forward", "UCF101/1": "",  # right both; empty: wrong both
        "Rtime_t2v/0": "The answer is B", "Rtime_t2v/1": "The answer is B",  # lmms reads "T": wrong; strict B: 0, 1
        "Rtime_v2t/0": "A", "Rtime_v2t/1": "A",  # right, wrong under both
    }  # AoTBench_QA's four: errors (no output)
    pairs = [(d, outputs.get(d.id)) for d in docs]
    assert [bench.lmms_item(d, outputs[d.id])[1] for d in docs if d.id in outputs] == [1, 0, 1, 0, 0, 0, 1, 0]
    lm = bench.lmms_summary(pairs)
    by = {k: v["accuracy"] for k, v in lm["breakdown"]["subset"].items()}
    assert list(by) == list(SUBSETS)
    assert by == {"ReverseFilm": 50.0, "UCF101": 50.0, "Rtime_t2v": 0.0, "Rtime_v2t": 50.0, "AoTBench_QA": 0.0}
    assert lm["average"] == pytest.approx(30.0) and lm["accuracy"] == pytest.approx(100 * 3 / 12)
    assert lm["n_empty"] == 1
    st = bench.strict_summary(pairs)
    assert {k: v["accuracy"] for k, v in st["breakdown"]["subset"].items()} == {
        "ReverseFilm": 100.0, "UCF101": 50.0, "Rtime_t2v": 50.0, "Rtime_v2t": 50.0, "AoTBench_QA": 0.0}
    assert st["average"] == pytest.approx(50.0) and st["accuracy"] == pytest.approx(100 * 5 / 12)
    assert st["n_unparsable"] == 1  # the empty answer


def test_aotbench_missing_file_and_bad_answer(tmp_path):
    root = _aot_root(tmp_path)
    (root / "data_files" / "input" / "UCF101.json").unlink()
    with pytest.raises(MissingData, match=r"no AoTBench UCF101 question file under .*aot: looked for "
                                          r"'data_files/input/UCF101.json'"):
        get_benchmark("aotbench")(root).load_items()
    root = _aot_root(tmp_path / "again")
    path = root / "data_files" / "input" / "Rtime_v2t.json"
    rows = json.loads(path.read_text())
    rows[1]["ans"] = "AB"
    path.write_text(json.dumps(rows))
    bench = get_benchmark("aotbench")(root)
    docs = {d.id: d for d in bench.load_items()}
    with pytest.raises(ValueError, match=r"AoTBench question Rtime_v2t/1: ans must be one character"):
        bench.check_gold(docs["Rtime_v2t/1"])


# ----------------------------------------------------------------------------------------------------------------
# CVBench


def _cv_rows():
    return [
        {"id": 0, "task_type": "Cross-video Event Retrieval", "video_1": "0/a.mp4", "video_2": "0/b.mp4",
         "video_3": None, "video_4": None, "question": "Which video shows the celebration?",
         "options": ["A. Video 1.", "B. Video 2.", "C. Both of them.", "D. None of them."], "answer": "B"},
        {"id": 1, "task_type": "Cross-video Scene Recognition", "video_1": "0/a.mp4", "video_2": "0/b.mp4",
         "video_3": "1/c.mp4", "video_4": None, "question": "Do all videos show a goal?", "options": ["Yes.", "No."],
         "answer": "No"},
        {"id": 2, "task_type": "Cross-video Scene Recognition", "video_1": "1/c.mp4", "video_2": "1/d.mp4",
         "video_3": None, "video_4": None, "question": "Are both courtrooms?", "options": ["Yes. ", "No. "],
         "answer": "Yes"},
    ]


def _cv_root(tmp_path, rows=None):
    from support.published import CVBENCH_SCHEMA, _parquet

    root = tmp_path / "cvbench"
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows or _cv_rows(), CVBENCH_SCHEMA)
    return root


def test_cvbench_prompts_as_the_authors_task():
    bench_cls = get_benchmark("CV-Bench")
    assert bench_cls.name == "cvbench" and bench_cls.max_new_tokens == 16 and bench_cls.max_videos_per_prompt == 4
    assert is_yes_no(["Yes.", "No."]) and is_yes_no(["yes", "NO"]) and not is_yes_no(["Yes. ", "No. "])


def test_cvbench_prompt_text_and_videos(tmp_path):
    bench = get_benchmark("cvbench")(_cv_root(tmp_path))
    mc, yn, spaced = bench.load_items()
    assert mc.videos == ("0/a.mp4", "0/b.mp4") and yn.videos == ("0/a.mp4", "0/b.mp4", "1/c.mp4")
    assert bench.user_text(mc) == (
        "Select the best answer to the following multiple-choice based on the listed all videos. Respond with only "
        "the letter (A, B, C, or D) of the correct option.\nWhich video shows the celebration?\nA. Video 1.\n"
        "B. Video 2.\nC. Both of them.\nD. None of them.\nAnswer with the option's letter (A, B, C, or D) from the "
        "given choices directly.")
    assert bench.user_text(yn) == (
        "Select the best answer to the following yes-no question based on the listed all videos. Respond with only "
        "the word (Yes or No) of the correct option.\nDo all videos show a goal?\nYes.\nNo.\nAnswer with the "
        "option's word (YES or NO) from the given choices directly.")
    # "Yes. " with its trailing space is not a yes/no option to the authors' test: asked as multiple choice
    assert bench.user_text(spaced).startswith("Select the best answer to the following multiple-choice")
    assert bench.user_text(spaced).endswith("Yes. \nNo. \nAnswer with the option's letter (A, B, C, or D) from the "
                                            "given choices directly.")
    # the videos resolve one by one, at video_k or under CVBench/
    (bench.root / "0").mkdir()
    (bench.root / "0" / "a.mp4").write_bytes(b"x")
    (bench.root / "CVBench" / "0").mkdir(parents=True)
    (bench.root / "CVBench" / "0" / "b.mp4").write_bytes(b"x")
    paths = bench.sources(mc, EvalSettings(model="m", backend="hf"))
    assert paths == ((bench.root / "0" / "a.mp4").resolve(), (bench.root / "CVBench" / "0" / "b.mp4").resolve())
    with pytest.raises(InputError, match=r"CVBench question 1: no video file at .*1/c.mp4 or .*CVBench/1/c.mp4"):
        bench.sources(yn, EvalSettings(model="m", backend="hf"))


@pytest.mark.parametrize("text,read", [
    ("B", "B"), ("The answer is B.", "B"), ("(c)", "C"), ("no", "NO"), ("Yes", "YES"), ("yes, a", "YES"),
    ("I think it's b", "B"), ("Because it is video 2", "B"),  # the first a-d anywhere, in any case
    ("Correct: A", "C"), ("nothing", "NO"), ("", ""), ("Video 2.", "D"),
    ("the video shows people running quickly through a park at night time", ""),  # > 10 words, no A-E/N/O/S/Y
    ("the people in the video run quickly through a park at night", ""),  # its "d" is lower case: not counted
    ("Nobody in the video runs quickly through the big park at night", "NO"),  # a capital N: read as usual
])
def test_cvbench_reading(text, read):
    assert mvr_answer(text) == read


def test_cvbench_scores(tmp_path):
    bench = get_benchmark("cvbench")(_cv_root(tmp_path))
    mc, yn, spaced = bench.load_items()
    # lmms_eval: upper-cased reading against the upper-cased gold
    assert bench.lmms_item(mc, "Based on it, B")[1] == 1.0  # "B" of "Based": right by chance
    assert bench.lmms_item(yn, "nothing like that")[1] == 1.0  # "no" of "nothing"
    assert bench.lmms_item(spaced, "Yes, both are.")[1] == 1.0
    assert bench.lmms_item(spaced, "A")[1] == 0.0
    pairs = [(mc, "Video 2."), (yn, "No."), (spaced, None)]  # "Video 2." reads "D": wrong; the third an error
    lm = bench.lmms_summary(pairs)
    assert lm["accuracy"] == pytest.approx(100 / 3) and lm["n"] == 3
    assert lm["breakdown"]["task_type"] == {"Cross-video Event Retrieval": {"accuracy": 0.0, "n": 1},
                                            "Cross-video Scene Recognition": {"accuracy": 50.0, "n": 2}}
    # strict: the project's letter reader with the option texts; yes/no words for a yes/no gold
    assert bench.strict_item(mc, "(B)") == ("B", 1.0)
    assert bench.strict_item(mc, "A or B") == (None, 0.0)
    assert bench.strict_item(yn, "No.") == ("no", 1.0)
    assert bench.strict_item(yn, "nothing like that") == (None, 0.0)
    assert bench.strict_item(spaced, "yes and no") == (None, 0.0)
    st = bench.strict_summary([(mc, "The answer is B."), (yn, "Yes"), (spaced, "Yes")])
    assert st["accuracy"] == pytest.approx(200 / 3)


def test_cvbench_bad_rows_are_named(tmp_path):
    rows = _cv_rows()
    rows[0]["answer"] = "E"
    bench = get_benchmark("cvbench")(_cv_root(tmp_path, rows))
    with pytest.raises(ValueError, match=r"CVBench question 0: answer must be A-D, Yes or No, got 'E'"):
        bench.check_gold(bench.load_items()[0])
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "CVBench.json").write_text(json.dumps([{**_cv_rows()[0], "video_1": None,
                                                                 "video_2": None}]))
    with pytest.raises(ValueError, match=r"CVBench.json row 0: no video"):
        get_benchmark("cvbench")(tmp_path / "json").load_items()


# ----------------------------------------------------------------------------------------------------------------
# ActivityNet Captions (val_2) and TACoS (2D-TAN's test.json)


def _anet_root(tmp_path):
    root = tmp_path / "anet"
    root.mkdir()
    (root / "val_2.json").write_text(json.dumps({
        "v_a": {"duration": 100.0, "timestamps": [[10, 30], [50, 40], [90, 120]],
                "sentences": ["A man waves.", "left out", "He sits down."]},
        "v_b": {"duration": 60.0, "timestamps": [[0, 20]], "sentences": [" A dog runs."]},
    }))
    return root


def test_activitynet_release_queries_and_scores(tmp_path):
    bench = get_benchmark("ActivityNet_Captions")(_anet_root(tmp_path))
    docs = bench.load_items()
    # the reversed query is left out; an end past the duration is clipped to it
    assert [(d.id, d.gold) for d in docs] == [("v_a#0", [10.0, 30.0]), ("v_a#2", [90.0, 100.0]),
                                              ("v_b#0", [0.0, 20.0])]
    assert docs[0].videos[:3] == ("v_a.mp4", "v_a.mkv", "v_a.webm") and "videos/v_a.mp4" in docs[0].videos
    assert bench.user_text(docs[0]) == (
        "Please find the visual event described by the sentence 'A man waves.', determining its starting and ending "
        "times. The format should be: 'The event happens in <start time> - <end time> seconds'.")
    answers = ["The event happens in 15 - 30 seconds.", "95 - 90", "from 0:05 to 0:15"]
    # v_a#0: overlap 15 of 20 -> 0.75; v_a#2: reversed, not swapped -> 0; v_b#0: clock times 5-15 in 0-20 -> 0.5
    assert [bench.lmms_item(d, a)[1] for d, a in zip(docs, answers)] == pytest.approx([0.75, 0.0, 0.5])
    lm = bench.lmms_summary(list(zip(docs, answers)))
    assert lm["miou"] == pytest.approx(125 / 3) and lm["n"] == 3
    assert lm["r@0.3"] == pytest.approx(200 / 3) and lm["r@0.5"] == pytest.approx(200 / 3)
    assert lm["r@0.7"] == pytest.approx(100 / 3)
    st = bench.strict_summary([(docs[0], "15-30"), (docs[1], "no idea"), (docs[2], None)])
    assert st["miou"] == pytest.approx(25.0) and st["n_unparsed"] == 2  # the error counts as unread too


def test_tacos_frames_to_seconds(tmp_path):
    root = tmp_path / "tacos"
    root.mkdir()
    (root / "test.json").write_text(json.dumps({"s1-d1.avi": {
        "fps": 25.0, "num_frames": 2500, "timestamps": [[250, 500], [2400, 2600], [700, 700]],
        "sentences": ["She takes out a knife.", "She washes up.", "left out"]}}))
    bench = get_benchmark("TACoS")(root)
    docs = bench.load_items()
    assert [(d.id, d.gold) for d in docs] == [("s1-d1.avi#0", [10.0, 20.0]), ("s1-d1.avi#1", [96.0, 100.0])]
    assert docs[0].videos == ("videos/s1-d1.avi", "s1-d1.avi", "videos/s1-d1.mp4", "s1-d1.mp4")
    lm = bench.lmms_summary([(docs[0], "10 - 15"), (docs[1], "96.0 to 100.0")])  # 0.5 and 1.0
    assert lm["miou"] == pytest.approx(75.0) and lm["r@0.7"] == pytest.approx(50.0) and lm["r@0.5"] == 100.0


def test_grounding_release_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingData, match=r"no ActivityNet Captions val_2.json under .*empty: looked for "
                                          r"'val_2.json', '\*\*/val_2.json'"):
        get_benchmark("activitynet")(tmp_path / "empty").load_items()
    root = tmp_path / "t"
    root.mkdir()
    (root / "test.json").write_text(json.dumps({"s1-d1.avi": {"fps": 25.0, "num_frames": 100,
                                                              "timestamps": [[1, 2, 3]], "sentences": ["x"]}}))
    with pytest.raises(ValueError, match=r"test.json video 's1-d1.avi' timestamps\[0\]: expected \[start, end\]"):
        get_benchmark("tacos")(root).load_items()
    (root / "test.json").write_text(json.dumps({"s1-d1.avi": {"fps": 25.0, "num_frames": 100,
                                                              "timestamps": [[1, 2]], "sentences": []}}))
    with pytest.raises(ValueError, match=r"video 's1-d1.avi' has 1 timestamps and 0 sentences"):
        get_benchmark("tacos")(root).load_items()


# ----------------------------------------------------------------------------------------------------------------
# Through the command lines with the tiny Qwen3-VL


def test_cvbench_run_sends_every_video(tiny_qwen3vl, tmp_path):
    root = _cv_root(tmp_path)
    for i, rel in enumerate(("0/a.mp4", "0/b.mp4", "1/c.mp4")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        make_clip(root / rel, seconds=1 + i, fps=8, size=(64, 48))
    out = tmp_path / "out"
    argv = ["--benchmark", "cvbench", "--data-root", str(root), "--model", str(tiny_qwen3vl), "--output-dir",
            str(out), "--limit", "2", *SMALL]
    assert cli.main("vqa", argv) == 0
    lines = read_jsonl(out / "results.jsonl")
    assert [r["id"] for r in lines] == ["0", "1"] and all(r["error"] is None for r in lines)
    assert lines[1]["videos"] == ["0/a.mp4", "0/b.mp4", "1/c.mp4"]
    assert lines[1]["prompt"].startswith("Select the best answer to the following yes-no question")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmark"] == "cvbench" and summary["settings"]["max_new_tokens"] == 16
    assert summary["incomplete"]["n_results"] == 2


def test_tacos_run_finds_the_mp4(tiny_qwen3vl, tmp_path):
    root = tmp_path / "tacos"
    (root / "videos").mkdir(parents=True)
    (root / "test.json").write_text(json.dumps({"s1-d1.avi": {"fps": 8.0, "num_frames": 16,
                                                              "timestamps": [[2, 10]], "sentences": ["x moves"]}}))
    shutil.copy(make_clip(tmp_path / "c.mp4", seconds=2, fps=8, size=(64, 48)), root / "videos" / "s1-d1.mp4")
    out = tmp_path / "out"
    assert cli.main("vtg", ["--benchmark", "tacos", "--data-root", str(root), "--model", str(tiny_qwen3vl),
                            "--output-dir", str(out), *SMALL]) == 0
    (rec,) = read_jsonl(out / "results.jsonl")
    assert rec["error"] is None and rec["answer"] == [0.25, 1.25] and rec["video"] == "videos/s1-d1.avi"
    assert json.loads((out / "summary.json").read_text())["headline"]["metric"] == "miou"
