"""A sweep's POLAR pool of priors: labels resolved to prior ids (hashed), dirs at run time."""

import copy
import json

import pytest

from priorlab.errors import ConfigError
from priorlab.experiments.spec import expand
from priorlab.experiments.store import Registry
from priorlab.experiments.sweep import _pool_dirs, run_sweep


def polar_spec(tiny_spec, **reward_params):
    spec = copy.deepcopy(tiny_spec)
    spec["algos"], spec["rewards"], spec["seeds"] = ["grpo"], ["polar"], [0]
    spec["train"]["reward_params"] = {"problems": 16, "steps": 10, "batch": 8, **reward_params}
    return spec


def test_the_pool_defaults_to_every_prior_of_the_sweep_and_its_ids_are_hashed(tiny_spec):
    sweep = expand(polar_spec(tiny_spec, pool="priors"))
    ids = [p.id for p in sweep.priors]
    for run in sweep.runs:
        assert run.config["reward_params"]["priors"] == ids and run.pool == tuple(ids)
        assert run.deps == (
            next(p.id for p in sweep.priors if p.labels == {"prior": run.labels["prior"]}),
        )
    again = expand(polar_spec(tiny_spec, pool="priors"))
    assert [r.id for r in again.runs] == [r.id for r in sweep.runs]  # deterministic
    plain = expand(polar_spec(tiny_spec))  # the temperature pool: no pool, other ids
    assert all(r.pool == () and "priors" not in r.config["reward_params"] for r in plain.runs)
    assert not {r.id for r in plain.runs} & {r.id for r in sweep.runs}
    stronger = polar_spec(tiny_spec, pool="priors")
    stronger["priors"][1]["steps"] = 60  # a pool prior changes: every run's id changes
    assert not {r.id for r in expand(stronger).runs} & {r.id for r in sweep.runs}


def test_labels_name_the_pool_and_a_path_may_join_it(tiny_spec, tmp_path):
    spec = polar_spec(tiny_spec, pool="priors", priors=["long", str(tmp_path)])
    sweep = expand(spec)
    long_id = next(p.id for p in sweep.priors if p.labels["prior"] == "long")
    for run in sweep.runs:
        assert run.config["reward_params"]["priors"] == [long_id, str(tmp_path)]
        assert run.pool == (long_id,)


@pytest.mark.parametrize(
    "params, field, match",
    [
        ({"priors": ["short", "nope"]}, "train.reward_params.priors[1]", "neither a prior"),
        ({"priors": "short"}, "train.reward_params.priors", "a list of prior labels"),
        ({"priors": ["short"]}, "train.reward_params.priors", "needs two or more"),
    ],
)
def test_a_bad_pool_is_refused_before_any_job_naming_the_field(tiny_spec, params, field, match):
    with pytest.raises(ConfigError, match=match) as err:
        expand(polar_spec(tiny_spec, pool="priors", **params))
    assert err.value.field == field


def test_the_sweep_puts_the_pool_priors_dirs_in_place_of_their_ids(tiny_spec, tmp_path):
    sweep = expand(polar_spec(tiny_spec, pool="priors"))
    run = sweep.runs[0]
    registry = Registry(tmp_path)
    from dataclasses import asdict

    job = _pool_dirs(asdict(run), registry)
    assert job["config"]["reward_params"]["priors"] == [
        str(tmp_path / "priors" / p.id) for p in sweep.priors
    ]
    assert run.config["reward_params"]["priors"] == [p.id for p in sweep.priors]  # untouched
    registry.close()


def test_a_polar_sweep_over_a_pool_of_its_priors_runs(tiny_spec, tmp_path):
    spec = polar_spec(tiny_spec, pool="priors")
    counts = run_sweep(spec, tmp_path, workers=1, quiet=True, report=False)
    assert counts["done"] == 4 and counts["failed"] == 0  # 2 priors, 2 runs
    sweep = expand(spec)
    dirs = [str(tmp_path / "priors" / p.id) for p in sweep.priors]
    for run in sweep.runs:
        config = json.loads((tmp_path / "runs" / run.id / "config.json").read_text())
        assert config["reward_params"]["priors"] == dirs
        rows = [json.loads(x) for x in (tmp_path / "runs" / run.id / "metrics.jsonl").open()]
        assert any(r.get("polar/pool") == "priors" for r in rows)
