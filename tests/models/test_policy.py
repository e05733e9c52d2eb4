import json

import pytest
import torch

from priorlab.errors import PriorlabError
from priorlab.models import SIZES, CharTokenizer, build_policy, count_parameters, load_policy


def test_tokenizer_round_trip_and_specials():
    tok = CharTokenizer()
    ids = tok.encode("3+4*2-5=")
    assert ids[0] == tok.bos_id and tok.decode(ids) == "3+4*2-5="
    assert tok.decode([*tok.encode("12", bos=False), tok.eos_id, *tok.encode("99")]) == "12"
    assert tok.return_token(True) != tok.return_token(False)


def test_sizes_span_tenth_of_a_million_to_twenty_million():
    counts = {s: count_parameters(build_policy(s).model) for s in ("0.1m", "20m")}
    assert 50_000 < counts["0.1m"] < 200_000
    assert 15_000_000 < counts["20m"] < 25_000_000
    assert set(SIZES) >= {"0.1m", "1m", "20m"}


def test_save_load_round_trip(tmp_path):
    policy = build_policy("0.1m", seed=3)
    policy.meta = {"task": "arith"}
    policy.save(tmp_path / "p")
    assert (tmp_path / "p" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "p" / "config.json").read_text())["meta"]["task"] == "arith"
    loaded = load_policy(tmp_path / "p")
    for (k, a), (_, b) in zip(policy.model.state_dict().items(), loaded.model.state_dict().items()):
        assert torch.equal(a, b), k


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(PriorlabError, match="no checkpoint at"):
        load_policy(tmp_path / "nowhere")


def test_left_padding_does_not_change_logits():
    policy = build_policy("0.1m")
    tok = policy.tokenizer
    ids = torch.tensor([tok.encode("12+3=")])
    valid = torch.ones_like(ids, dtype=torch.bool)
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], 1)
    pvalid = torch.cat([torch.zeros(1, 3, dtype=torch.bool), valid], 1)
    a, _ = policy.model(ids, valid)
    b, _ = policy.model(padded, pvalid)
    assert torch.allclose(a, b[:, 3:], atol=1e-5)


def test_value_head_is_added_without_touching_the_policy():
    policy = build_policy("0.1m")
    critic = policy.with_value_head()
    ids = torch.tensor([policy.tokenizer.encode("1+1=")])
    valid = torch.ones_like(ids, dtype=torch.bool)
    logits, values = critic.model(ids, valid)
    assert values.shape == ids.shape
    assert torch.allclose(logits, policy.model(ids, valid)[0])
