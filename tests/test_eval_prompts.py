"""Prompt presets of custom data (the generic JSON format): lmms-eval's Charades-STA wording for grounding and a
generic multiple-choice instruction by default, the old wording on request, and the preset used recorded with every
result and in the summary. (The published benchmarks use their own lmms-eval prompts: test_eval_lmms_agreement.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from videossr.evaluation import cli
from videossr.evaluation.items import EvalItem, vqa_prompt, vtg_prompt
from videossr.evaluation.prompts import DEFAULT_PRESET, PRESETS, get_preset
from videossr.evaluation.runner import EvalSettings
from videossr.io import read_jsonl

REPO = Path(__file__).resolve().parents[1]

# lmms-eval's instructions, written out here as the protocol they are (charades_sta.yaml, mvbench *.yaml).
LMMS_CHARADES = (
    "Please find the visual event described by a sentence in the video, determining its starting and ending times. "
    "The format should be: 'The event happens in the start time - end time'. For example, The event 'person turn a "
    "light on' happens in the 24.3 - 30.4 seonds. Now I will give you the textual sentence: "
    "person opens the door. Please return its start time and end time."
)


def test_default_preset_is_lmms_evals_wording():
    assert DEFAULT_PRESET == "lmms_eval"
    assert EvalSettings(task="vtg", model="m", backend="hf").prompt_preset == "lmms_eval"
    item = EvalItem("1", "v", "person opens the door", "1.0-2.0")
    assert vtg_prompt(item) == "<video>" + LMMS_CHARADES


def test_multiple_choice_presets():
    item = EvalItem("1", "v", "What is shown?", "A", {"options": ["a cat", "a dog"]})
    assert vqa_prompt(item) == (
        "<video>What is shown?\nA. a cat\nB. a dog\nAnswer with the option's letter from the given choices directly."
    )
    assert vqa_prompt(item, "lmms_eval_videomme") == (
        "<video>Select the best answer to the following multiple-choice question based on the video. Respond with "
        "only the letter (A, B, C, or D) of the correct option.\nWhat is shown?\nA. a cat\nB. a dog\n"
        "The best answer is:"
    )
    assert vqa_prompt(item, "videossr").endswith("\nAnswer with the letter of the correct option only.")
    inline = EvalItem("2", "v", "What is shown?\nA. a cat\nB. a dog", "A")
    assert vqa_prompt(inline).count("A. a cat") == 1  # options inside the question are not repeated


def test_old_wording_is_a_preset():
    item = EvalItem("1", "v", "The rabbit appears.", "1.0-3.0")
    assert vtg_prompt(item, "videossr") == (
        "<video>The rabbit appears.\nGive the start and end time of this event in seconds, written as start-end "
        "with one decimal (for example 12.5-20.0), and nothing else."
    )
    assert get_preset("VideoSSR").name == "videossr"  # names are case-insensitive
    with pytest.raises(ValueError, match="unknown prompt preset 'fancy'"):
        get_preset("fancy")
    assert set(PRESETS) == {"lmms_eval", "lmms_eval_videomme", "videossr"}


def test_preset_is_recorded_and_resume_refuses_another(tiny_qwen3vl, tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(REPO / "data" / "demo" / "bigbuckbunny.mp4", videos / "bigbuckbunny.mp4")
    data = tmp_path / "vtg.json"
    data.write_text(json.dumps([{"video": "bigbuckbunny", "question": "The rabbit appears.", "answer": "1.0-3.0"}]))
    out = tmp_path / "out"
    argv = ["--model", str(tiny_qwen3vl), "--data", str(data), "--video-dir", str(videos), "--output-dir", str(out),
            "--backend", "hf", "--max-frames", "4", "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32),
            "--max-new-tokens", "4"]
    assert cli.main("vtg", argv) == 0
    assert "prompt preset" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["prompt_preset"] == "lmms_eval" and summary["settings"]["prompt_preset"] == "lmms_eval"
    assert all(r["settings"]["prompt_preset"] == "lmms_eval" for r in read_jsonl(out / "results.jsonl"))
    (rec,) = read_jsonl(out / "results.jsonl")  # the exact text sent is on the line
    assert rec["prompt"] == "<video>" + LMMS_CHARADES.replace("person opens the door", "The rabbit appears.") \
        and rec["system_prompt"] is None
    with pytest.raises(ValueError, match="prompt_preset"):
        cli.main("vtg", argv + ["--prompt-preset", "VIDEOSSR"])
