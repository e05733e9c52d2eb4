"""Bad inputs stop with one clear error naming what is wrong, never a deep traceback.

Cases:
- a prompt longer than the model's context (a GSM8K question on the built-in tiny model):
  PriorlabError "prompt of problem <id> is N tokens (+ max_new_tokens M) but the model
  holds C positions", with what to change; `priorlab train` stops before sampling.
- a damaged checkpoint: weights cut in half, weights of another model size, config.json
  missing, not JSON, not UTF-8, or without its model fields; a path that does not exist.
  Each names the file and what is wrong.
- a data file that is not UTF-8 (a latin-1 byte on line 3 of a GSM8K jsonl, in SVAMP.json):
  DataError naming the file and the line; malformed JSON keeps its own message.
- pretraining at a huge learning rate (`priorlab pretrain --set lr=1e6`): Diverged, naming
  the step and the learning rate, and no weights are saved.
"""

import json

import pytest
import torch

from priorlab.config import PretrainConfig, TrainConfig
from priorlab.errors import DataError, Diverged, PriorlabError
from priorlab.models import build_policy, load_policy
from priorlab.priors import pretrain
from priorlab.rollout import check_context, rollout
from priorlab.tasks import make_task
from priorlab.train import train
from tests.faults.conftest import cli

QUESTION = "Ann has 2 bags with 3 apples in each bag and buys 4 more apples. " * 2 + "How many?"
ROWS = [{"question": f"{QUESTION} ({i})", "answer": "2*3=<<2*3=6>>6\n#### 6"} for i in range(12)]


@pytest.fixture
def gsm8k_dir(tmp_path):
    """A GSM8K directory whose questions (~150 characters) overflow a 64-position model."""
    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    return tmp_path


# --- a prompt longer than the model's context -------------------------------------------


def test_a_prompt_longer_than_the_context_names_problem_sizes_and_fixes(gsm8k_dir):
    problems = make_task("gsm8k", path=str(gsm8k_dir)).problems("test", 2, seed=0)
    policy = build_policy("0.1m", max_len=64)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(PriorlabError) as info:
        rollout(policy, problems, group_size=2, max_new_tokens=8, generator=gen)
    message = str(info.value)
    assert f"prompt of problem {problems[0].id} is " in message
    assert "tokens (+ max_new_tokens 8) but the model holds 64 positions" in message
    assert "longer context" in message and "shorter prompts" in message


def test_a_prompt_that_leaves_too_little_room_says_how_far_to_lower_max_new_tokens():
    task = make_task("arith", steps=2, ops=["+"])
    problems = task.problems("test", 4, seed=0)
    policy = build_policy("0.1m", max_len=24)
    check_context(policy, problems, max_new_tokens=8)  # fits: no error
    with pytest.raises(PriorlabError, match=r"lower max_new_tokens to at most 1\d"):
        check_context(policy, problems, max_new_tokens=20)


def test_train_on_prompts_longer_than_the_context_stops_before_sampling(gsm8k_dir, tmp_path):
    build_policy("0.1m", max_len=64).save(tmp_path / "prior")
    cfg = TrainConfig(
        model=str(tmp_path / "prior"),
        out=str(tmp_path / "run"),
        task="gsm8k",
        task_params={"path": str(gsm8k_dir)},
        train_problems=4,
        eval_problems=2,
        rollout_budget=8,
        prompts_per_step=2,
        group_size=4,
        tensorboard=False,
    )
    with pytest.raises(PriorlabError, match="but the model holds 64 positions"):
        train(cfg, quiet=True)
    assert not list((tmp_path / "run").glob("samples_*"))


# --- a damaged checkpoint ----------------------------------------------------------------


def cut_weights(path):
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


def other_size_weights(path):
    (path / "model.safetensors").write_bytes(
        _saved(path.parent / "other", "1m").joinpath("model.safetensors").read_bytes()
    )


def _saved(path, size="0.1m"):
    build_policy(size, seed=1).save(path)
    return path


DAMAGE = {
    "weights cut in half": (cut_weights, "model.safetensors is not a readable safetensors"),
    "weights of a 1m model": (
        other_size_weights,
        r"model.safetensors does not match the shapes in config.json beside it: tok_emb.weight "
        r"is \(100, 128\), the config needs \(100, 64\)",
    ),
    "config.json missing": (
        lambda p: (p / "config.json").unlink(),
        r"no checkpoint at .* \(no config.json;",
    ),
    "config.json not JSON": (
        lambda p: (p / "config.json").write_text('{"backend": "tiny", "model": {'),
        r"config.json is not valid JSON \(line 1",
    ),
    "config.json not UTF-8": (
        lambda p: (p / "config.json").write_bytes(b"\xff\xfe{}"),
        "config.json is not UTF-8 text",
    ),
    "config.json without model fields": (
        lambda p: (p / "config.json").write_text('{"backend": "tiny"}'),
        "config.json has no 'model' object",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_names_the_file_and_what_is_wrong(tmp_path, damage):
    path = _saved(tmp_path / "prior")
    spoil, message = DAMAGE[damage]
    spoil(path)
    with pytest.raises(PriorlabError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_a_model_path_that_does_not_exist_is_one_line_on_the_command_line(tmp_path):
    result = cli("train", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: model: no checkpoint at {tmp_path / 'nowhere'} (the path does not exist; "
        "expected config.json and model.safetensors from `priorlab pretrain`, a Hugging Face "
        "model directory, a .gguf file, or smollm2)"
    ]


# --- a data file that is not UTF-8 -------------------------------------------------------


def test_a_latin1_byte_in_a_gsm8k_file_names_the_file_and_line(gsm8k_dir):
    lines = (gsm8k_dir / "train.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"apples", b"pommes \xe0", 1)  # latin-1 for "à"
    (gsm8k_dir / "train.jsonl").write_bytes(b"\n".join(lines))
    task = make_task("gsm8k", path=str(gsm8k_dir))
    assert len(task.pool("test")) == len(ROWS)  # the other file is fine
    with pytest.raises(DataError, match=r"train.jsonl:3: not UTF-8 \(byte 0xe0 at column \d+\)"):
        task.pool("train")


def test_bad_json_keeps_its_own_message(gsm8k_dir):
    (gsm8k_dir / "train.jsonl").write_text(json.dumps(ROWS[0]) + "\n\n{not json\n")
    with pytest.raises(DataError, match="train.jsonl:3: bad JSON"):
        make_task("gsm8k", path=str(gsm8k_dir)).pool("train")


def test_a_latin1_byte_in_svamp_names_the_file_and_line(tmp_path):
    row = {
        "ID": "x-1",
        "Body": "Dan had $ 3 left. He had $ 4 at the start",
        "Question": "How much did the candy bar cost?",
        "Equation": "( 4.0 - 3.0 )",
        "Answer": 1.0,
    }
    text = json.dumps([row], indent=1).encode().replace(b"Dan", b"D\xe0n")
    (tmp_path / "SVAMP.json").write_bytes(text)
    with pytest.raises(DataError, match=r"SVAMP.json:4: not UTF-8 \(byte 0xe0 at column 13\)"):
        make_task("svamp", path=str(tmp_path)).pool("test")


# --- pretraining that diverges -----------------------------------------------------------


def test_pretraining_at_a_huge_learning_rate_stops_and_saves_nothing(tmp_path):
    out = tmp_path / "prior"
    cfg = PretrainConfig(
        out=str(out),
        task_params={"steps": 2, "ops": ["+", "-"]},
        size="0.1m",
        steps=20,
        corpus_size=200,
        batch_size=16,
        lr=1e6,
    )
    with pytest.raises(Diverged, match=r"pretrain step \d+ of 20 at lr 1e\+06: loss nan"):
        pretrain(cfg, quiet=True)
    assert not out.exists()


def test_the_pretrain_command_at_lr_1e6_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "prior"
    sets = ["lr=1e6", "size=0.1m", "corpus_size=200", "batch_size=16"]
    args = [a for s in sets for a in ("--set", s)]
    result = cli("pretrain", *args, "--steps", "20", "--out", str(out), "-q")
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: pretrain step ") and "lower the learning rate (lr)" in line
    assert not list(out.glob("*"))  # the command made --out; nothing was written into it
