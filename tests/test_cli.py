"""The command line: user mistakes are one line on stderr and exit code 2, no traceback."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "priorlab.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "--algo", "trpo", "--model", "x"], "error: algo: unknown algorithm 'trpo'"),
        (["train", "--set", "lr=-1"], "error: lr: must be > 0"),
        (["train", "--model", "/nonexistent"], "error: model: no checkpoint at"),
        (["train", "--set", "lrate=1"], "error: lrate: unknown field"),
        (["eval", "-n", "4", "--k", "8"], "error: k: must be <= samples (4)"),
        (["pretrain", "--config", "/nonexistent.yaml"], "error: config: file not found"),
        (["pretrain", "--set", "wrong_frac=2"], "error: wrong_frac: must be in [0, 1]"),
        (["compare", "nope"], "error: spec: 'nope' is neither a file nor a preset"),
        (["compare", "--set", "budget=-5"], "error: budget: a positive number"),
        (["compare", "--set", "seeds=[]"], "error: seeds: the grid is empty"),
        (["compare", "--executor", "slurm"], "error: executor: unknown executor 'slurm'"),
        (["report", "nowhere"], "error: runs_dir: no such directory"),
        (["status", "."], "error: runs_dir: no registry.sqlite"),
        (["train", "--model", "/nonexistent.gguf"], "error: model: GGUF file not found"),
        (["train", "--set", "reward=oracle"], "error: unknown reward 'oracle'"),
        (["pretrain", "--task", "sudoku"], "error: unknown task 'sudoku'; valid: arith"),
        (["pretrain", "--set", "task_params.steps=0"], "error: steps: 0 is invalid; accepted"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, message, tmp_path):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_internal_value_error_keeps_its_traceback(monkeypatch):
    from priorlab import cli as cli_module

    def bug(cls):
        raise ValueError("shape mismatch: (4, 8) vs (4, 9)")  # a torch error, say

    monkeypatch.setattr(cli_module, "_fields_help", bug)
    monkeypatch.setattr(sys, "argv", ["priorlab", "fields", "train"])
    with pytest.raises(ValueError, match="shape mismatch"):  # not SystemExit(2)
        cli_module.main()


def test_an_unknown_name_is_still_one_line_and_exit_2(monkeypatch, capsys):
    from priorlab import cli as cli_module
    from priorlab.algos import ADVANTAGES

    monkeypatch.setattr(cli_module, "_fields_help", lambda cls: ADVANTAGES["grp0"])
    monkeypatch.setattr(sys, "argv", ["priorlab", "fields", "train"])
    with pytest.raises(SystemExit) as e:
        cli_module.main()
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: unknown advantage 'grp0'; valid: ")
    assert len(err.strip().splitlines()) == 1


def test_grpo_group_size_one_fails_before_work(tiny_prior, tmp_path):
    result = cli(
        "train",
        "--algo",
        "grpo",
        "--model",
        str(tiny_prior),
        "--out",
        str(tmp_path / "r"),
        "--set",
        "group_size=1",
    )
    assert result.returncode == 2 and "group_size: grpo needs group_size >= 2" in result.stderr
    assert not (tmp_path / "r").exists()


def test_pretrain_train_eval_end_to_end(tiny_prior, tmp_path):
    run = tmp_path / "run"
    result = cli(
        "train",
        "--algo",
        "grpo",
        "--model",
        str(tiny_prior),
        "--out",
        str(run),
        "-q",
        "--budget",
        "64",
        "--set",
        "prompts_per_step=8",
        "--set",
        "group_size=4",
        "--set",
        "eval_problems=8",
        "--set",
        "eval_samples=4",
        "--set",
        "max_new_tokens=16",
        "--set",
        "train_problems=500",
    )
    assert result.returncode == 0, result.stderr
    assert "grpo: pass@1" in result.stdout
    result = cli(
        "eval",
        "--model",
        str(run / "policy"),
        "--out",
        str(tmp_path / "ev"),
        "-n",
        "4",
        "--set",
        "problems=8",
        "--set",
        "max_new_tokens=16",
    )
    assert result.returncode == 0, result.stderr
    assert '"eval/pass@4"' in result.stdout and (tmp_path / "ev" / "samples.parquet").is_file()


def test_listings_name_every_preset_reward_and_sweep():
    assert {"grpo", "gppo", "gfpo", "ei", "rcrl"} <= {
        line.split()[0] for line in cli("algos").stdout.splitlines()
    }
    assert {"verifier", "orm", "self_certainty", "serl", "raro", "sdpo", "polar"} <= {
        line.split()[0] for line in cli("rewards").stdout.splitlines()
    }
    assert {"default", "havrilla2024", "zoo", "seed-levels"} <= {
        line.split()[0] for line in cli("presets").stdout.splitlines()
    }
    fields = cli("fields", "pretrain").stdout
    assert "  roles = []  #" in fields and "  task_params = {}  #" in fields


def console_script(*args, **kw):
    """The installed `priorlab` entry point, as a user runs it."""
    script = Path(sys.executable).with_name("priorlab")
    return subprocess.Popen([str(script), *args], stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize(
    "args,message",
    [
        (["comapre"], "error: No such command 'comapre'. Did you mean 'compare'?"),
        (["train", "--budget", "abc"], "error: Invalid value for '--budget'"),
        (["train", "--colour", "red"], "error: No such option: --colour"),
        (["eval", "--model"], "error: Option '--model' requires an argument."),
    ],
)
def test_usage_mistakes_of_the_installed_command_are_one_line_and_exit_2(args, message):
    proc = console_script(*args, stdout=subprocess.DEVNULL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


def test_ctrl_c_exits_130_and_says_interrupted(tmp_path):
    proc = console_script(
        "pretrain",
        "--out",
        str(tmp_path / "p"),
        "--steps",
        "100000",
        "--set",
        "size=0.1m",
        stdout=subprocess.DEVNULL,
        # as from a terminal: a test run started in the background (`cmd &` in a script)
        # hands its children SIGINT ignored, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(6)  # past the imports, into pretraining
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never left running (it pretrains for 100,000 steps)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted"
    assert not (tmp_path / "p").exists()  # nothing half-written is left as a prior


def test_log_level_sends_priorlab_diagnostics_to_stderr(capsys):
    import logging

    from priorlab import cli as cli_module

    package = logging.getLogger("priorlab")
    before = (package.level, list(package.handlers))
    try:
        cli_module._logging("info")
        cli_module._logging("info")  # a second invocation in one process: still one handler
        logging.getLogger("priorlab.run").info("the prior's evaluation is not kept")
        logging.getLogger("priorlab.run").debug("not shown at info")
        captured = capsys.readouterr()
        assert captured.out == ""  # stdout keeps the results
        assert captured.err == "INFO priorlab.run: the prior's evaluation is not kept\n"
    finally:
        package.handlers[:] = before[1]
        package.setLevel(before[0])


def test_an_unknown_log_level_is_a_user_mistake(tmp_path):
    result = cli("--log-level", "loud", "presets", cwd=tmp_path)
    assert result.returncode == 2
    assert "error: log-level: 'loud' is not one of debug, info, warning, error" in result.stderr
