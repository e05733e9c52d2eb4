"""The Ray executor asks for the sweep's resources, and a job sees the GPU Ray assigned it.

Ray can declare GPUs a machine does not have (`ray.init(num_gpus=2)`), so the scheduling
is tested here on the CPU: each task's request, and the CUDA_VISIBLE_DEVICES Ray sets.
"""

import os

import pytest

from priorlab.experiments.executors import RayExecutor


def visible_devices(_):
    import ray

    return os.environ.get("CUDA_VISIBLE_DEVICES"), [str(g) for g in ray.get_gpu_ids()]


@pytest.fixture
def ray_with_two_gpus():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def run_all(pool, n):
    handles = [pool.submit(visible_devices, i) for i in range(n)]
    return [pool.result(h) for h in handles]


def test_whole_gpus_one_per_job_each_its_own(ray_with_two_gpus):
    pool = RayExecutor(2, resources={"cpus": 1, "gpus": 1})
    assert pool.options() == {"num_cpus": 1, "num_gpus": 1}
    seen = run_all(pool, 2)
    assert all(env == ",".join(ids) and len(ids) == 1 for env, ids in seen)
    # two concurrent jobs cannot hold the same GPU; over two jobs both GPUs may be used
    assert {ids[0] for _, ids in seen} <= {"0", "1"}


def test_a_fraction_of_a_gpu_shares_one_and_the_default_asks_for_none(ray_with_two_gpus):
    pool = RayExecutor(2, resources={"gpus": 0.5})
    assert pool.options() == {"num_cpus": 1, "num_gpus": 0.5}
    assert all(len(ids) == 1 for _, ids in run_all(pool, 2))
    default = RayExecutor(2)
    assert default.options() == {"num_cpus": 1, "num_gpus": 0}
    assert all(ids == [] for _, ids in run_all(default, 1))


@pytest.mark.parametrize(
    "value, field",
    [
        ("one", "resources"),
        ({"tpus": 1}, "resources.tpus"),
        ({"cpus": 0}, "resources.cpus"),
        ({"cpus": 1.5}, "resources.cpus"),
        ({"gpus": -1}, "resources.gpus"),
        ({"gpus": 1.5}, "resources.gpus"),
    ],
)
def test_bad_resources_are_refused_naming_the_field(value, field):
    from priorlab.errors import ConfigError
    from priorlab.experiments.executors import parse_resources

    with pytest.raises(ConfigError) as e:
        parse_resources(value)
    assert e.value.field == field


def test_a_spec_states_its_resources_and_they_do_not_change_job_ids():
    from priorlab.experiments.spec import expand

    spec = {"budget": 256, "algos": ["grpo"], "priors": [{"steps": 10}]}
    plain = expand(spec)
    placed = expand({**spec, "resources": {"cpus": 2, "gpus": 0.25}})
    assert plain.resources == {"cpus": 1, "gpus": 0}
    assert placed.resources == {"cpus": 2, "gpus": 0.25}
    assert [j.id for j in placed.jobs] == [j.id for j in plain.jobs]


def test_engine_is_hashed_only_when_set(tmp_path):
    import json

    from priorlab.experiments.spec import expand

    hf = tmp_path / "hf"  # a Hugging Face model directory (vllm samples for those only)
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "llama"}))
    spec = {"budget": 256, "algos": ["grpo"], "priors": [{"label": "hf", "model": str(hf)}]}
    default = expand(spec).runs[0].id
    assert expand({**spec, "train": {"engine": "hf"}}).runs[0].id == default
    assert expand({**spec, "train": {"engine": "vllm"}}).runs[0].id != default
