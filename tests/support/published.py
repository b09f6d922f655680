"""Data roots of the published benchmarks in their published schema, small enough for a test.

``write_root(name, root, utils)`` writes a benchmark's annotation file(s) where its users have them (parquet with
the published column types, or JSON) and returns the rows; ``video_paths`` lists where their videos go, for tests
that make tiny clips there. Categories come from lmms-eval's own lists where its aggregation requires them.
Varied on purpose: option counts, "N/A" padding, repeated keys, float16 timestamps, reversed-looking captions.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MVBENCH_SUBTASKS = ("action_sequence", "moving_count", "action_prediction", "episodic_reasoning", "action_antonym",
                    "action_count", "scene_transition", "object_shuffle", "object_existence", "fine_grained_pose",
                    "unexpected_action", "moving_direction", "state_change", "object_interaction", "character_order",
                    "action_localization", "counterfactual_inference", "fine_grained_action", "moving_attribute",
                    "egocentric_navigation")


def _parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema) if schema is not None else pa.Table.from_pylist(rows)
    pq.write_table(table, path)


def mvbench(root: Path, rng: random.Random, per_subtask: int = 3) -> None:
    nouns = ["a cup", "the door", "a red ball", "two cubes", "the man's hat", "A box", "a dog (small)", "it, again"]
    for sub in MVBENCH_SUBTASKS:
        rows = []
        for i in range(per_subtask):
            k = rng.choice([2, 3, 4, 5])
            cands = rng.sample(nouns, k)
            rows.append({"video": f"{sub}_{i}.mp4", "question": f"What is moved in clip {i}?",
                         "candidates": cands, "answer": rng.choice(cands)})
        (root / "json").mkdir(parents=True, exist_ok=True)
        (root / "json" / f"{sub}.json").write_text(json.dumps(rows, indent=1))


def videomme(root: Path, rng: random.Random, utils: Any, n: int = 24) -> None:
    rows = []
    for i in range(n):
        texts = ["A cat.", "Two people", "The red car, parked", "It rains"]
        rows.append({
            "video_id": f"{i // 3:03d}", "duration": utils.VIDEO_TYPE[i % 3],
            "domain": utils.CATEGORIES[i % len(utils.CATEGORIES)],
            "sub_category": utils.SUB_CATEGORIES[i % len(utils.SUB_CATEGORIES)], "url": "https://example.org/v",
            "videoID": f"vid{i // 3:03d}", "question_id": f"{i // 3:03d}-{i % 3 + 1}",
            "task_type": utils.TASK_CATEGORIES[i % len(utils.TASK_CATEGORIES)],
            "question": f"What happens in scene {i}?",
            "options": [f"{letter}. {t}" for letter, t in zip("ABCD", rng.sample(texts, 4))],
            "answer": rng.choice("ABCD"),
        })
    _parquet(root / "videomme" / "test-00000-of-00001.parquet", rows)


def charades(root: Path, rng: random.Random, n: int = 30) -> None:
    captions = ["person opens the door", "a person is eating a sandwich", "person turns on the light",
                "someone puts a tomato on the table", "person sits down"]
    rows = []
    for i in range(n):
        start = round(rng.uniform(0, 20), 1)
        rows.append({"video": f"V{i % 7:04d}.mp4", "caption": captions[i % len(captions)],
                     "timestamp": [start, start + round(rng.uniform(0.5, 12), 1)]})
    rows.append(dict(rows[3]))  # the same video>>>caption>>>timestamp key twice: lmms-eval counts it once
    schema = pa.schema([("video", pa.string()), ("caption", pa.string()), ("timestamp", pa.list_(pa.float16()))])
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows, schema)


def longvideobench(root: Path, rng: random.Random, n: int = 24) -> None:
    rows = []
    for i in range(n):
        k = rng.choice([3, 4, 5])
        opts = [f"option text {j} of {i}" for j in range(k)] + ["N/A"] * (5 - k)
        rows.append({"video_id": f"v{i}", "duration_group": [15, 60, 600, 3600][i % 4],
                     "question_category": ["S2E", "E2O", "T3O", "SSS"][i % 4], "question": f"Q{i}: what is shown?",
                     "option0": opts[0], "option1": opts[1], "option2": opts[2], "option3": opts[3],
                     "option4": opts[4], "correct_choice": rng.randrange(k), "id": f"lvb_{i:04d}",
                     "video_path": f"v{i}.mp4", "subtitle_path": f"v{i}_en.json", "duration": 100.0 + i})
    _parquet(root / "validation-00000-of-00001.parquet", rows)


def lvbench(root: Path, rng: random.Random, n: int = 24) -> None:
    rows = []
    for i in range(n):
        opts = [f"choice {j} for {i}" for j in range(4)]
        row = {"uid": str(1000 + i), "video_path": f"videos/{i % 5}.mp4",
               "question": f"What does the host do at minute {i}?\n" + "\n".join(
                   f"({letter}) {t}" for letter, t in zip("ABCD", opts)),
               "answer": rng.choice("ABCD"), "question_type": [["key information retrieval"], ["reasoning",
                                                                                             "summarization"]][i % 2]}
        rows.append(row)
    _parquet(root / "lvbench" / "train-00000-of-00001.parquet", rows)


def timelens(root: Path, rng: random.Random, split: str, n: int = 30) -> None:
    queries = ["A man waves at the camera.", "the dog runs to the left", "Someone 'opens' a box", "people cheer"]
    rows = []
    for i in range(n):
        windows = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            a = round(rng.uniform(0, 100), 1)
            windows.append([a, a + rng.choice([2, 4.5, 10, 30])])
        rows.append({"video_path": f"videos/{split}_{i % 9}.mp4", "query": queries[i % len(queries)],
                     "span": windows, "source": split})
    rows.append(dict(rows[5]))
    schema = pa.schema([("video_path", pa.string()), ("query", pa.string()),
                        ("span", pa.list_(pa.list_(pa.float64()))), ("source", pa.string())])
    _parquet(root / "data" / f"{split}-00000-of-00001.parquet", rows, schema)


def vcrbench(root: Path, rng: random.Random, n: int = 24) -> None:
    goals = ["make a sandwich", "change a tire", "plant a tree"]
    rows = []
    for i in range(n):
        k = rng.choice([3, 4, 5, 7, 10, 12])
        truth = list(range(k))
        rng.shuffle(truth)
        rows.append({"qid": i + 1, "video_file": f"videos/video_{i + 1}.mp4", "goal": goals[i % 3],
                     "ground_truth": truth})
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows)


def order_outputs(rng: random.Random, n: int, truth: list[int]) -> list[str]:
    """Answers to a clip-ordering question of n clips (1-based truth): clean, labelled, wrapped, wrong, broken."""
    perm = list(range(1, n + 1))
    rng.shuffle(perm)
    right, other = ", ".join(map(str, truth)), ", ".join(map(str, perm))
    return [
        f"Correct order: {right}", f"Correct order: {other}", right, f"**Correct order:** {right}",
        f"<think>maybe {other}</think>Correct order: {right}", f"<answer>{right}</answer>", f"\\boxed{{{other}}}",
        f"Clip {right.replace(', ', ', Clip ')}", f"The correct order is {other}. Or maybe {right}.",
        f"First, clip 1 shows a man. Correct order: {right}", " ".join(map(str, truth)), "".join(map(str, truth)),
        f"Correct order: {right[:-3]}", "I cannot tell.", "", f"Correct order: {right}, {n + 1}",
        f"Correct order: {other}\nCorrect order: {right}", f"</think>Correct order: {right}",
        f"Step 1: clip {truth[0]}; Correct order: {right}!", f"order = [{right}]",
    ]


def vinoground(root: Path, rng: random.Random) -> None:
    """All 500 pairs (lmms-eval's aggregation needs every one), their score files and the lmmseval rows."""
    majors = ["action", "object", "viewpoint"]
    minors = [None, "interaction", "cyclical;spatial", "contextual"]
    text_entries, video_entries, rows = [], [], []
    for p in range(500):
        major, minor = majors[p % 3], minors[p % 4]
        for side in ("pos", "neg"):
            idx = f"{p}_{side}"
            text_entries.append({"idx": idx, "video_name": f"vinoground_videos/{idx}.mp4",
                                 "question": "Which caption matches the video?\nA. he sits, then jumps\n"
                                             "B. he jumps, then sits", "GT": rng.choice("AB")})
            video_entries.append({"idx": idx, "video_name": f"vinoground_videos_concated/{idx}.mp4",
                                  "question": f"Which segment shows: event {p} {side}? A. the first B. the second",
                                  "GT": rng.choice("ABab")})
            for kind in ("text", "video"):
                rows.append({"index": f"{idx}_{kind}", "major": major, "minor": minor})
    for rel, entries in (("vinoground_videos/vinoground_textscore.json", text_entries),
                         ("vinoground_videos_concated/vinoground_videoscore.json", video_entries)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(json.dumps(entries))
    _parquet(root / "data" / "lmmseval-00000-of-00001.parquet", rows)


def videott(root: Path, rng: random.Random, utils: Any, n: int = 24) -> None:
    rows = []
    for i in range(n):
        opts = [f"{letter}. option {letter.lower()} of {i}" for letter in "ABCD"[: rng.choice([3, 4])]]
        rows.append({"video_id": f"vtt{i % 8}", "question": f"Why does the cup fall in shot {i}?",
                     "question_prompt": "\n".join(opts) + "\nAnswer with the option's letter.",
                     "answer": rng.choice("ABC"), "capability": utils.CATEGORIES[i % len(utils.CATEGORIES)],
                     "qid": f"tt-{i}"})
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows)


def cgbench(root: Path, rng: random.Random, n: int = 24) -> None:
    rows = []
    for i in range(n):
        k = rng.choice([4, 6, 10, 14])
        rows.append({"qid": 500 + i, "video_uid": f"uid{i % 6}", "question": f"What is on the shelf at the end ({i})?",
                     "choices": [f"thing {j}" for j in range(k)], "right_answer": rng.choice("ABCDabcd"),
                     "duration": 1200.0 + i, "domain": ["Life", "Sports"][i % 2],
                     "sub_category": ["x", "y", "z"][i % 3]})
    _parquet(root / "cg-bench-mini" / "train-00000-of-00001.parquet", rows)


def tempcompass(root: Path, rng: random.Random, n: int = 12) -> None:
    dims = ["speed", "direction", "action", "order", "attribute_change"]
    mc, yn, cm = [], [], []
    for i in range(n):
        opts = ["left", "right", "up", "down"][: rng.choice([3, 4])]
        k = rng.randrange(len(opts))
        mc.append({"video_id": f"tc{i}", "question": f"Where does the car go ({i})?\n" + "\n".join(
            f"{'ABCD'[j]}. {o}" for j, o in enumerate(opts)), "answer": f"{'ABCD'[k]}. {opts[k]}", "dim": dims[i % 5]})
        yn.append({"video_id": f"tc{i}", "question": f"Is the car going left in clip {i}?",
                   "answer": rng.choice(["yes", "no"]), "dim": dims[i % 5]})
        kind = ["Caption", "Sentence", "Option"][i % 3]
        ids = ["A", "B"] if kind != "Option" else ["1", "2"]
        caps = ["the car moves left, then stops", "the car stops, then moves left"]
        lines = [f"{kind} {ident}: {c}" for ident, c in zip(ids, caps)]
        cm.append({"video_id": f"tc{i}", "question": "Which caption matches the video?\n" + "\n".join(lines),
                   "answer": rng.choice(lines), "dim": dims[i % 5]})
    for form, rows in (("multi-choice", mc), ("yes_no", yn), ("caption_matching", cm)):
        _parquet(root / form / "test-00000-of-00001.parquet", rows)


def tempcompass_outputs(rng: random.Random, doc_row: dict, form: str) -> list[str]:
    q = doc_row["question"]
    lines = q.split("\n")[1:]
    if form == "yes_no":
        return ["yes", "no", "Yes", "No.", "yes, it is", "No, it goes right", " yes", "Yes! no", "It is yes",
                "nope", "YES", "n", "", "Not sure"]
    if form == "caption_matching":
        out = list(lines) + [ln.split(": ")[1] for ln in lines] + [ln.split(": ")[0] for ln in lines]
        out += [ln.split(": ")[0].split()[-1] for ln in lines] + [ln.split(": ")[0].split()[-1] + "." for ln in lines]
        out += ["(A) " + lines[0].split(": ")[1], "Caption A.", "The first one", "", "A or B", "1"]
        return out
    return choice_outputs(rng, "ABCD", 12)[:12] + lines + [doc_row["answer"], "A)", "B) right", "C.up", " A"]


def videommmu(root: Path, rng: random.Random, n: int = 12) -> None:
    subjects = ["Art", "Math", "Clinical_Medicine", "Computer_Science", "Economics", "History"]
    opens = ["12.5", "1,200", "photosynthesis", "x", "3", "Newton's second law"]
    for level in ("Perception", "Comprehension", "Adaptation"):
        rows = []
        for i in range(n):
            k = rng.choice([4, 5, 10])
            opts = [f"choice {j} for {i}" for j in range(k)]
            if i % 3 == 0:
                opts = [f"{chr(65 + j)}. {o}" for j, o in enumerate(opts)]
            is_open = level == "Adaptation" and i % 2 == 0
            rows.append({"id": f"{['test', 'dev', 'validation'][i % 3]}_{subjects[i % len(subjects)]}_{i + 1}",
                         "question": f"What does the lecture show in step {i}?",
                         "options": [] if is_open else opts,
                         "answer": opens[i % len(opens)] if is_open else chr(65 + rng.randrange(k)),
                         "question_type": "open" if is_open else "multiple-choice"})
        _parquet(root / level / "test-00000-of-00001.parquet", rows)


def open_outputs(gold: str) -> list[str]:
    """Answers to an open question: right in several shapes, wrong, wordy, empty."""
    return [gold, f"The answer is {gold}.", f"So the result is {gold}", f"{gold}.", f"It is {gold.upper()}",
            "The answer is 7", "", "I don't know", "= 12.5", "3e2", f"Answer: 7\nso the total is {gold}",
            "The value is 12.50 dollars", "1200", "it has photosynthesis in it", "x", "The answer is x.",
            f"Therefore, {gold}. Is it?", "The answer is 1,200 and not 12.5", "final answer: photosynthesis",
            "equals 3", "nan", "Thus the force is 3 N", "The answer is: .", "so"]


def qvhighlights(root: Path, rng: random.Random, n: int = 12) -> None:
    rows = []
    for i in range(n):
        windows = []
        for _ in range(rng.choice([1, 2, 3])):
            a = rng.randrange(0, 140, 2)
            windows.append([a, a + rng.choice([2, 4, 10])])
        rows.append({"qid": 9000 + i, "query": f"someone does thing {i}", "duration": 150,
                     "vid": f"yt{i}_{i * 30}.0_{i * 30 + 150}.0", "relevant_windows": windows})
    (root / "highlight_val_release.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


AOTBENCH_SUBSETS = ("ReverseFilm", "UCF101", "Rtime_t2v", "Rtime_v2t", "AoTBench_QA")


def aotbench(root: Path, rng: random.Random, per_subset: int = 4) -> None:
    """The question files the authors' code reads (data_files/input/<subset>.json): qa_idx, video_name, question
    (the whole text sent) and ans."""
    for subset in AOTBENCH_SUBSETS:
        rows = []
        for i in range(per_subset):
            k = rng.choice([2, 2, 4])
            options = "\n".join(f"{'ABCD'[j]}. {rng.choice(['forward', 'backward', 'a man sits', 'he stands'])}"
                                for j in range(k))
            rows.append({"qa_idx": i, "video_name": f"{subset}/clip_{i}.mp4",
                         "question": f"Which way is the video played?\n{options}\nAnswer with the option's letter "
                                     f"from the given choices directly.",
                         "ans": rng.choice("ABCD"[:k])})
        path = root / "data_files" / "input" / f"{subset}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=1))


CVBENCH_SCHEMA = pa.schema([("id", pa.int64()), ("task_type", pa.string()), ("video_1", pa.string()),
                            ("video_2", pa.string()), ("video_3", pa.string()), ("video_4", pa.string()),
                            ("question", pa.string()), ("options", pa.list_(pa.string())), ("answer", pa.string())])
CVBENCH_TASKS = ("Cross-video Anomaly Detection", "Cross-video Scene Recognition", "Joint-video Counting",
                 "Multi-video Temporal Reasoning", "Video Difference Caption")


def cvbench(root: Path, rng: random.Random, n: int = 15) -> None:
    """Dongyh35/CVBench's data/test-*.parquet: two to four videos per question (the unused ones null), options as
    "A. text" lines or "Yes." / "No." (and the published "Yes. " with a trailing space), answers A-D / Yes / No."""
    rows = []
    for i in range(n):
        k = rng.choice([2, 3, 4])
        videos = [f"{i // 2}/vid{i // 2}_{j}.mp4" for j in range(k)] + [None] * (4 - k)
        form = i % 3
        if form == 0:
            options = [f"{letter}. Video {j + 1}." for j, letter in enumerate("ABCD")]
            answer = rng.choice("ABCD")
        elif form == 1:
            options, answer = ["Yes.", "No."], rng.choice(["Yes", "No"])
        else:
            options, answer = ["Yes. ", "No. "], rng.choice(["Yes", "No"])
        rows.append({"id": i, "task_type": CVBENCH_TASKS[i % len(CVBENCH_TASKS)], "video_1": videos[0],
                     "video_2": videos[1], "video_3": videos[2], "video_4": videos[3],
                     "question": f"Across the videos, what happens in scene {i}?", "options": options,
                     "answer": answer})
    _parquet(root / "data" / "test-00000-of-00001.parquet", rows, CVBENCH_SCHEMA)


def activitynet(root: Path, rng: random.Random, n_videos: int = 4) -> None:
    """The release's val_2.json: {video_id: {duration, timestamps (seconds), sentences}}, an end past the duration
    and a query whose start is not before its end included."""
    data = {}
    for v in range(n_videos):
        duration = round(rng.uniform(40, 200), 2)
        stamps = [[round(a, 2), round(a + rng.uniform(2, 40), 2)] for a in (rng.uniform(0, duration - 5)
                                                                           for _ in range(rng.choice([2, 3, 4])))]
        data[f"v_vid{v:03d}"] = {"duration": duration, "timestamps": stamps,
                                 "sentences": [f" A person does thing {v}.{k}." for k in range(len(stamps))]}
    data["v_vid000"]["timestamps"][0] = [10.0, 10.0]
    data["v_vid001"]["timestamps"][-1][1] = data["v_vid001"]["duration"] + 5.0
    (root / "val_2.json").write_text(json.dumps(data))


def tacos(root: Path, rng: random.Random, n_videos: int = 3) -> None:
    """2D-TAN's TACoS test.json: {"<video>.avi": {num_frames, fps, timestamps (frames), sentences}}."""
    data = {}
    for v in range(n_videos):
        fps, frames = 29.4, rng.randrange(2000, 9000)
        stamps = []
        for _ in range(rng.choice([2, 3, 5])):
            a = rng.randrange(0, frames - 300)
            stamps.append([a, a + rng.randrange(30, 2000)])
        data[f"s{13 + v}-d{21 + v}.avi"] = {"timestamps": stamps, "sentences": [f"She takes out item {v}.{k}"
                                                                            for k in range(len(stamps))],
                                            "fps": fps, "num_frames": frames}
    (root / "test.json").write_text(json.dumps(data))


def write_root(name: str, root: Path, utils: Any = None, seed: int = 0) -> Path:
    rng = random.Random(f"{name}:{seed}")
    root.mkdir(parents=True, exist_ok=True)
    {"mvbench": lambda: mvbench(root, rng), "videomme": lambda: videomme(root, rng, utils),
     "charades": lambda: charades(root, rng), "longvideobench": lambda: longvideobench(root, rng),
     "lvbench": lambda: lvbench(root, rng),
     "qvhighlights_timelens": lambda: timelens(root, rng, "qvhighlights"),
     "activitynet_timelens": lambda: timelens(root, rng, "activitynet"),
     "vcrbench": lambda: vcrbench(root, rng), "vinoground": lambda: vinoground(root, rng),
     "videott": lambda: videott(root, rng, utils), "cgbench": lambda: cgbench(root, rng),
     "tempcompass": lambda: tempcompass(root, rng), "videommmu": lambda: videommmu(root, rng),
     "qvhighlights": lambda: qvhighlights(root, rng), "aotbench": lambda: aotbench(root, rng),
     "cvbench": lambda: cvbench(root, rng), "activitynet": lambda: activitynet(root, rng),
     "tacos": lambda: tacos(root, rng)}[name]()
    return root


# ------------------------------------------------------------------------------------------------------------------
# Varied model outputs


def choice_outputs(rng: random.Random, letters: str = "ABCDE", n: int = 320) -> list[str]:
    """Answers to a multiple-choice question in the shapes models write, clean and messy (>= n of them)."""
    shapes = [
        "{L}", "{l}", "({L})", "{L}.", "{L})", "{L}: {t}", "{L}. {t}", "({L}) {t}", "The answer is {L}.",
        "the answer is ({l})", "Answer: {L}", "answer: {l}", "**{L}**", "Option {L}", "Option {L}: {t}",
        "The best answer is {L}", "The correct option is {L}.", "I think it's {L}.", "I choose {L}", "{t}",
        "Based on the video, {L}", "A person walks; the answer is {L}.", "{L} or {M}", "{L}\n{M}", "({L}) or ({M})",
        "Not {L}, it is {M}.", "<answer>{L}</answer>", "{L}, because {t}", "It is hard to tell.", "", " ", "\n",
        "None of the above", "I don't know", "a dog", "E", "Both {L} and {M} are possible.", "{l}.", "'{L}'",
        "\"{L}\"", "[{L}]", "{L} - {t}", "The answer: {L}", "My answer is {L}", "答案是{L}", "Best option: {L}",
        "The answer {L}", "{t} ({L})", "{L};", "{L}!", "{L}?", "Answer with {L}", "It is a {t}, so {L}.",
        "{L}.{M}.", "The answer is: {L}", "1. {L}", "{L} 2.5", "{t}, i.e. {L}", "an elephant",
        "Between ({L}) and ({M}), the answer is {M}", "{L}: no. {M}: yes", "{L}) maybe; {M}. final",
        "the answer is {l} ({M})", "I pick {M}: {L}. is wrong", "{L} {M}", "Answer is {M} so not {L}.",
        "CAT", "{t}. Done", "{L}.... {M}", "x {L}) {M}", "It could be {L} but the best option is {M}.",
    ]
    texts = ["a cup", "the door", "two cubes", "A box", "it rains", "the red car, parked"]
    out = []
    while len(out) < n:
        for shape in shapes:
            L, M = rng.choice(letters), rng.choice(letters)
            out.append(shape.format(L=L, l=L.lower(), M=M, t=rng.choice(texts)))
    return out[: max(n, len(out))]


def interval_outputs(rng: random.Random, n: int = 320) -> list[str]:
    """Answers to a grounding question in the shapes models write (seconds, clock times, words, reversed, none)."""
    shapes = [
        "The event happens in {a} - {b} seconds.", "{a}-{b}", "{a} - {b}", "from {a} to {b}", "{a}s - {b}s",
        "{a} to {b} seconds", "The event starts at {a} and ends at {b}.", "start time: {a}, end time: {b}",
        "{b} - {a}", "00:{ia:02d} - 00:{ib:02d}", "0:{ia:02d}:00 - 0:{ib:02d}:00", "between {a} and {b} seconds",
        "It happens at {a} seconds.", "[{a}, {b}]", "{a}-{b} and {c}-{d}", "The event happens in {a}s–{b}s.",
        "no idea", "", "The person puts a tomato down at {a}.", "starts {a}\nends {b}", "{a}", "happens {a} {b}",
        "The event 'x' happens in the {a} - {b} seonds", "A specific example is : 20.8 - 30.0 seconds. {a} - {b}",
        "{a} seconds to {b} seconds", "at 00:{ia:02d}, until 00:{ib:02d}", "{ia}:{ib:02d}", "{a}s-{b}s!",
        "Start: {a}. End: {b}.", "{a} – {b}", "<answer>{a}-{b}</answer>", "the end is {b}, the start {a}",
    ]
    out = []
    while len(out) < n:
        for shape in shapes:
            a = round(rng.uniform(0, 25), rng.choice([0, 1, 2]))
            b = round(a + rng.uniform(-3, 15), rng.choice([0, 1]))
            c, d = round(rng.uniform(0, 10), 1), round(rng.uniform(10, 30), 1)
            out.append(shape.format(a=a, b=b, c=c, d=d, ia=int(a) % 60, ib=int(abs(b)) % 60))
    return out
