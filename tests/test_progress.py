"""priorlab.progress: the metrics log's optional TensorBoard writer."""

import logging
import sys

from priorlab import progress
from priorlab.progress import MetricsLog


def test_a_missing_tensorboard_is_a_warning_given_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    progress._warn_no_tensorboard.cache_clear()
    caplog.set_level(logging.WARNING, logger="priorlab")
    for run in ("a", "b"):
        log = MetricsLog(tmp_path / run, tensorboard=True)
        log.log({"step": 1, "reward/mean": 0.5})
        assert log.tb is None and (tmp_path / run / "metrics.jsonl").read_text()
    warned = [r for r in caplog.records if "tensorboard" in r.getMessage()]
    assert len(warned) == 1  # once per process, not once per run
    assert warned[0].levelno == logging.WARNING and warned[0].name == "priorlab.progress"
    assert "tensorboard=false" in warned[0].getMessage()
    progress._warn_no_tensorboard.cache_clear()


def test_no_warning_when_tensorboard_is_off(tmp_path, caplog):
    progress._warn_no_tensorboard.cache_clear()
    caplog.set_level(logging.DEBUG, logger="priorlab")
    MetricsLog(tmp_path, tensorboard=False)
    assert not caplog.records
