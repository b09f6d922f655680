"""Eval results belong to the data and the settings that made them (the runner's resume rules), on real files: the
demo clips, the tiny random Qwen3-VL through the HF backend and the eval CLIs' mains with their exit codes.

* an edited gold answer is re-scored from the stored output; an edited video id or question, another data file or a
  rebuilt VIUBench in the same output folder is refused, and --overwrite starts over;
* items whose input failed (missing video, wrong --video-dir, undecodable file) are tried again on the next run;
* a model that fails to load records nothing;
* gold answers that cannot be read are refused before anything is loaded or written;
* --limit limits what a run generates; the summary always covers exactly the lines of results.jsonl, also after
  an interrupt;
* the CLI conventions (importable mains, case-insensitive choices, logging flags, exit 2 for bad flags).
"""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from videossr.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, run
from videossr.evaluation import cli
from videossr.evaluation.choice import extract_choice
from videossr.io import read_jsonl

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
SMALL = ["--max-frames", "4", "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32), "--max-new-tokens", "4",
         "--quiet"]

ITEMS = [
    {"id": "q1", "video": "bigbuckbunny", "question": "Which animal?\nA. a rabbit\nB. a whale\nC. a car", "answer": "A",
     "category": "animals"},
    {"id": "q2", "video": "cityCC0", "question": "Where?", "options": ["a city", "a forest"], "answer": "A",
     "category": "places"},
    {"id": "q3", "video": "bigbuckbunny", "question": "Day or night?\nA. day\nB. night", "answer": "A",
     "category": "animals"},
]


@pytest.fixture()
def videos(tmp_path) -> Path:
    d = tmp_path / "videos"
    d.mkdir()
    shutil.copy(DEMO / "bigbuckbunny.mp4", d / "bigbuckbunny.mp4")
    shutil.copy(DEMO / "cityCC0.mpg", d / "cityCC0.mpg")
    return d


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _vqa(model, data, video_dir, out, *extra) -> int:
    argv = ["--model", str(model), "--data", str(data), "--video-dir", str(video_dir), "--output-dir", str(out),
            "--backend", "hf", *SMALL, *extra]
    return run(cli.vqa_main, argv, name="vqa")


def _state(out: Path) -> dict[str, bytes]:
    """The bytes of every file in the output folder (to show a refused run changed nothing)."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())} if out.exists() else {}


def _agree(out: Path) -> tuple[list[dict], dict]:
    """Results and summary, checked to describe the same items with the same scores."""
    recs = read_jsonl(out / "results.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    m = summary["metrics"]
    assert m["n"] == len(recs) == len({r["id"] for r in recs})
    assert m["n_correct"] == sum(r["score"] for r in recs)
    assert m["n_errors"] == sum(1 for r in recs if r["error"])
    return recs, summary


# ---------------------------------------------------------------------------------------------------------------
# A changed data file in the same output folder


def test_edited_gold_is_rescored_from_the_stored_output(tiny_qwen3vl, videos, tmp_path, capsys):
    data, out = _write(tmp_path / "vqa.json", ITEMS), tmp_path / "out"
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_OK
    before = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    capsys.readouterr()

    edited = [dict(it) for it in ITEMS]
    edited[0]["answer"], edited[0]["category"] = "C", "cartoons"
    _write(data, edited)
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_OK
    assert "generated 0 items" in capsys.readouterr().out  # the model was asked the same: no new answer
    recs, summary = _agree(out)
    after = {r["id"]: r for r in recs}
    assert after["q1"]["raw_output"] == before["q1"]["raw_output"]
    assert after["q1"]["answer"] == "C" and after["q1"]["category"] == "cartoons"
    parsed = extract_choice(before["q1"]["raw_output"], {"A": "a rabbit", "B": "a whale", "C": "a car"})
    assert after["q1"]["parsed"] == parsed and after["q1"]["score"] == float(parsed == "C")
    assert "cartoons" in summary["metrics"]["per_category"]
    assert after["q2"] == before["q2"] and after["q3"] == before["q3"]


def test_changed_question_or_video_is_refused_and_overwrite_starts_over(tiny_qwen3vl, videos, tmp_path, capsys):
    data, out = _write(tmp_path / "vqa.json", ITEMS), tmp_path / "out"
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_OK
    state = _state(out)
    capsys.readouterr()

    edited = [dict(it) for it in ITEMS]
    edited[1]["video"] = "bigbuckbunny"  # another video id
    edited[2]["question"] = "Day or night?\nA. day\nB. night\nC. dusk"  # another option
    _write(data, edited)
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "item 'q2' is now asked differently (video changed)" in err
    assert "item 'q3' is now asked differently (prompt changed)" in err
    assert "--overwrite" in err
    assert _state(out) == state  # refused before anything was written

    # Another data file with fewer items (positional ids, as many benchmarks have): refused too.
    other = _write(tmp_path / "other.json", [{k: v for k, v in it.items() if k != "id"} for it in ITEMS[1:]])
    assert _vqa(tiny_qwen3vl, other, videos, out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "item 'q1' is not in the data" in err and "made from other data" in err
    assert _state(out) == state

    assert _vqa(tiny_qwen3vl, data, videos, out, "--overwrite") == EXIT_OK
    assert "generated 3 items" in capsys.readouterr().out
    recs, _ = _agree(out)
    assert {r["id"]: r["video"] for r in recs} == {"q1": "bigbuckbunny", "q2": "bigbuckbunny", "q3": "bigbuckbunny"}


class _Fixed:
    """A deterministic stand-in model: the same answer to every request."""

    name = "fixed"

    def __init__(self, text: str):
        self.text = text

    def generate(self, requests):
        return [self.text] * len(requests)

    def close(self):
        pass


def _set_gold(parquet: Path, row: int, gold: str) -> None:
    """Edit one VIUBench row's gold answer in place (as a hand-edited benchmark file would be)."""
    table = pq.read_table(parquet)
    field = table.schema.get_field_index("reward_model")
    values = table.column(field).to_pylist()
    values[row] = {**values[row], "ground_truth": gold}
    pq.write_table(table.set_column(field, "reward_model", pa.array(values, table.schema.field(field).type)), parquet)


def test_viubench_rebuilt_or_regraded_in_the_same_output_folder(tmp_path):
    from videossr.evaluation import EvalSettings
    from support.frames import make_frame_store
    from videossr.evaluation.viubench import build_viubench, evaluate, read_rows, score_output

    make_frame_store(tmp_path / "frames", num_videos=2, num_frames=48, width=64, height=48)
    first = build_viubench(tmp_path / "frames", tmp_path / "a", per_subtype=1, progress=False).parquet
    settings = EvalSettings(model="fixed", backend="table")
    out = tmp_path / "out"
    evaluate(first, out, settings, backend=_Fixed("1,1,1"), batch_size=4)

    # The same benchmark rebuilt with another seed: other segments, orders and shapes. Refused.
    rebuilt = build_viubench(tmp_path / "frames", tmp_path / "b", per_subtype=1, seed=8, progress=False).parquet
    with pytest.raises(ValueError, match="made from other data") as refused:
        evaluate(rebuilt, out, settings, backend_factory=lambda: pytest.fail("nothing may be loaded"))
    message = str(refused.value)
    assert "holds 9 results that were made from other data" in message and "--overwrite" in message
    assert "is not in the data" in message and "is now asked differently (sample, videos changed)" in message

    # An edited gold answer: re-scored through the task table, nothing generated.
    k = next(i for i, r in enumerate(read_rows(first)) if r["subtype"] == "counting_easy")
    _set_gold(first, k, "1,1,1")
    s = evaluate(first, out, settings, backend_factory=lambda: pytest.fail("nothing may be loaded"))
    assert s["run"]["generated"] == 0 and s["run"]["n_rescored"] == 1
    rec = next(r for r in read_jsonl(out / "results.jsonl") if r["subtype"] == "counting_easy")
    assert rec["answer"] == "1,1,1" and rec["score"] == score_output("counting", "1,1,1", "1,1,1")[1] == 1.0
    assert s["per_subtype"]["counting_easy"]["score"] == 1.0


# ---------------------------------------------------------------------------------------------------------------
# Inputs that failed are tried again; a model that does not load records nothing


def test_failed_inputs_are_retried_on_the_next_run(tiny_qwen3vl, videos, tmp_path, capsys):
    items = ITEMS + [
        {"id": "late", "video": "late_clip", "question": "Q?\nA. yes\nB. no", "answer": "A"},
        {"id": "bad", "video": "broken", "question": "Q?\nA. yes\nB. no", "answer": "B"},
    ]
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video" * 4)
    data, out = _write(tmp_path / "vqa.json", items), tmp_path / "out"

    # A wrong --video-dir: every video is missing. No model is needed to find that out.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _vqa(tiny_qwen3vl, data, empty, out) == EXIT_SOME_FAILED
    printed = capsys.readouterr().out
    assert "generated 0 items" in printed and "5 items ended with an error (missing_video 5" in printed
    _agree(out)

    # The right folder: the three items with a video are answered; the missing and the broken one fail again.
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_SOME_FAILED
    assert "generated 3 items" in capsys.readouterr().out
    recs, _ = _agree(out)
    kinds = {r["id"]: r["error_kind"] for r in recs}
    assert kinds == {"q1": None, "q2": None, "q3": None, "late": "missing_video", "bad": "decode_error"}
    answered = {r["id"]: r for r in recs if not r["error"]}

    # The video appears and the broken file is replaced: both are tried again, nothing else is generated.
    shutil.copy(DEMO / "cityCC0.mpg", videos / "late_clip.mpg")
    shutil.copy(DEMO / "bigbuckbunny.mp4", videos / "broken.mp4")
    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_OK
    assert "generated 2 items" in capsys.readouterr().out
    recs, summary = _agree(out)
    by_id = {r["id"]: r for r in recs}
    assert all(by_id[i] == r for i, r in answered.items())
    assert by_id["late"]["error"] is None and isinstance(by_id["late"]["raw_output"], str)
    assert by_id["bad"]["error"] is None and summary["metrics"]["n_errors"] == 0


def test_a_model_that_fails_to_load_records_nothing(tiny_qwen3vl, videos, tmp_path, capsys):
    data = _write(tmp_path / "vqa.json", ITEMS)
    out = tmp_path / "out"
    assert _vqa(tmp_path / "no_model_here", data, videos, out) == EXIT_USAGE
    assert "cannot load the model" in capsys.readouterr().err
    assert not (out / "results.jsonl").exists() and not (out / "summary.json").exists()

    # A resumed run whose retried item needs the model, and the model folder has lost its weights.
    model = tmp_path / "model"
    shutil.copytree(tiny_qwen3vl, model)
    shutil.move(videos / "cityCC0.mpg", tmp_path / "cityCC0.mpg")
    assert _vqa(model, data, videos, out) == EXIT_SOME_FAILED  # q2's video is missing
    state = _state(out)
    shutil.move(tmp_path / "cityCC0.mpg", videos / "cityCC0.mpg")
    weights = sorted(model.glob("*.safetensors"))
    assert weights
    for w in weights:
        w.rename(w.with_suffix(".off"))
    capsys.readouterr()
    assert _vqa(model, data, videos, out) == EXIT_USAGE
    assert "cannot load the model" in capsys.readouterr().err
    assert _state(out) == state  # the missing-video line was not dropped, nothing was appended

    for w in weights:
        w.with_suffix(".off").rename(w)
    assert _vqa(model, data, videos, out) == EXIT_OK
    assert "generated 1 items" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------
# Gold answers that cannot be read


@pytest.mark.parametrize(
    "task,item,message",
    [
        ("vqa", {"id": "x1", "video": "bigbuckbunny", "question": "Q?\nA. yes\nB. no", "answer": "E"},
         "item x1: gold answer 'E' is not one of the options A, B"),
        ("vqa", {"id": "x2", "video": "bigbuckbunny", "question": "Q?", "options": ["yes", "no"], "answer": 2},
         "item x2: gold answer 2 is not one of the options A, B"),
        ("vtg", {"id": "x3", "video": "bigbuckbunny", "question": "It moves.", "answer": "1.0-2.0-3.0"},
         "item x3: gold interval must be 'start-end' seconds or [start, end] with end > start >= 0, got '1.0-2.0-3.0'"),
        ("vtg", {"id": "x4", "video": "bigbuckbunny", "question": "It moves.", "answer": [3.0, 1.0]},
         "item x4: gold interval"),
    ],
)
def test_bad_gold_is_refused_before_anything_is_loaded(task, item, message, videos, tmp_path, capsys):
    good = {"id": "ok", "video": "cityCC0", "question": "Where?\nA. city\nB. sea", "answer": "A"}
    if task == "vtg":
        good = {"id": "ok", "video": "cityCC0", "question": "A tower.", "answer": "0.5-2.0"}
    data, out = _write(tmp_path / "data.json", [good, item]), tmp_path / "out"
    argv = ["--model", str(tmp_path / "no_model_here"), "--data", str(data), "--video-dir", str(videos),
            "--output-dir", str(out), "--backend", "hf", *SMALL]
    assert run(lambda a: cli.main(task, a), argv, name=task) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "cannot load the model" not in err  # the gold check comes first
    assert not out.exists()


def test_bad_viubench_gold_is_refused(tmp_path, capsys):
    from support.frames import make_frame_store
    from videossr.evaluation.viubench import build_viubench

    make_frame_store(tmp_path / "frames", num_videos=2, num_frames=48, width=64, height=48)
    parquet = build_viubench(tmp_path / "frames", tmp_path / "bench", per_subtype=1, progress=False,
                             subtypes=["grounding_mirror"]).parquet
    _set_gold(parquet, 0, "1.0-2.0-3.0")
    argv = ["--model", str(tmp_path / "no_model_here"), "--backend", "hf", "--data", str(parquet),
            "--output-dir", str(tmp_path / "out"), "--quiet"]
    assert run(cli.viubench_main, argv, name="viubench") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "question grounding_mirror_00000" in err and "'1.0-2.0-3.0'" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------------
# --limit and the summary


def test_limit_limits_generation_and_the_summary_covers_every_result(tiny_qwen3vl, videos, tmp_path, capsys):
    data, out = _write(tmp_path / "vqa.json", ITEMS), tmp_path / "out"
    assert _vqa(tiny_qwen3vl, data, videos, out, "--limit", "1") == EXIT_OK
    printed = capsys.readouterr().out
    assert "generated 1 items" in printed and "the results cover 1 of the 3 items" in printed
    recs, summary = _agree(out)
    assert [r["id"] for r in recs] == ["q1"]
    assert summary["incomplete"] == {"n_items": 3, "n_results": 1, "n_not_run": 2}

    assert _vqa(tiny_qwen3vl, data, videos, out) == EXIT_OK
    assert "generated 2 items" in capsys.readouterr().out
    recs, summary = _agree(out)
    assert len(recs) == 3 and "incomplete" not in summary
    full = (out / "results.jsonl").read_bytes(), (out / "summary.json").read_bytes()

    # After the full run, --limit 1 generates nothing and the summary still covers all three results.
    assert _vqa(tiny_qwen3vl, data, videos, out, "--limit", "1") == EXIT_OK
    printed = capsys.readouterr().out
    assert "generated 0 items" in printed and "cover" not in printed
    assert ((out / "results.jsonl").read_bytes(), (out / "summary.json").read_bytes()) == full


# ---------------------------------------------------------------------------------------------------------------
# The command-line conventions


def test_scripts_import_their_main_from_the_library():
    for name, main in (("vqa", cli.vqa_main), ("vtg", cli.vtg_main), ("viubench", cli.viubench_main)):
        namespace = runpy.run_path(str(REPO / "eval" / f"{name}.py"))  # not as __main__: nothing runs
        assert namespace["main"] is main


def test_flags_follow_the_cli_conventions(videos, tmp_path, capsys):
    base = ["--model", "m", "--data", "d.json", "--video-dir", str(videos), "--output-dir", str(tmp_path / "o")]
    args = cli.parse_args("vqa", base + ["--backend", "HF", "--prompt-preset", "VideoSSR", "--decoder", "PyAV",
                                         "--log-level", "debug", "--quiet"])
    assert (args.backend, args.prompt_preset, args.decoder, args.log_level) == ("hf", "videossr", "pyav", "DEBUG")
    assert args.quiet

    # --max-pixels below the default --min-pixels: a clear message and exit status 2.
    with pytest.raises(SystemExit) as e:
        cli.parse_args("vtg", base + ["--max-pixels", "4096"])
    assert e.value.code == EXIT_USAGE
    assert "--min-pixels 16384 is above --max-pixels 4096" in capsys.readouterr().err
    for bad in (["--decoder", "bogus"], ["--backend", "tpu"], ["--max-frames", "1"], ["--backend", "openai"]):
        with pytest.raises(SystemExit) as e:
            cli.parse_args("vqa", base + bad)
        assert e.value.code == EXIT_USAGE, bad
    capsys.readouterr()

    # A --video-dir that is not there: exit 2 before anything else.
    argv = base[:5] + [str(tmp_path / "nowhere")] + base[6:]
    assert run(cli.vqa_main, argv, name="vqa") == EXIT_USAGE
    assert "nowhere" in capsys.readouterr().err

    # The three scripts share one set of backend flags, with the same defaults.
    def backend_flags(parser):
        group = next(g for g in parser._action_groups if g.title == "model and backend")
        return {a.dest: (tuple(a.option_strings), a.default) for a in group._group_actions if a.dest != "model"}

    flags = [backend_flags(p) for p in (cli.build_parser("vqa"), cli.build_parser("vtg"), cli.build_viubench_parser())]
    # vqa/vtg leave the answer length to the benchmark (a published one: its lmms-eval task's; custom data: 32)
    assert [f.pop("max_new_tokens")[1] for f in flags] == [None, None, 32]
    assert flags[0] == flags[1] == flags[2] and flags[0]["batch_size"][1] is None
    assert [cli.default_batch_size(b, 2) for b in ("hf", "openai", "vllm")] == [4, 8, 32]


class _Interrupted:
    """A stand-in model that answers the first batch and is interrupted (Ctrl-C) during the second."""

    name = "interrupted"

    def __init__(self):
        self.calls = 0

    def generate(self, requests):
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return ["A"] * len(requests)

    def close(self):
        pass


def test_an_interrupted_run_leaves_results_and_summary_in_agreement(videos, tmp_path):
    from videossr.evaluation import EvalSettings, load_items, run_eval

    data, out = _write(tmp_path / "vqa.json", ITEMS), tmp_path / "out"
    settings = EvalSettings(model="stand-in", backend="table", max_frames=4, min_pixels=1024, max_pixels=4096)
    with pytest.raises(KeyboardInterrupt):
        run_eval("vqa", load_items(data), settings, out, video_dir=videos, backend=_Interrupted(), batch_size=2,
                 progress=False)
    recs, summary = _agree(out)
    assert [r["id"] for r in recs] == ["q1", "q2"]
    assert summary["incomplete"] == {"n_items": 3, "n_results": 2, "n_not_run": 1}
    s = run_eval("vqa", load_items(data), settings, out, video_dir=videos, backend=_Fixed("A"), progress=False)
    assert s["run"]["generated"] == 1 and "incomplete" not in s
    _agree(out)
