"""A config valid before the declared schema (issue 27) keeps its job ids: every preset's
expanded jobs against the ids recorded from the code before it (preset_job_ids.json)."""

import json
from pathlib import Path

import pytest

from priorlab.experiments.spec import expand, load_spec, preset_names

RECORDED = json.loads(Path(__file__).with_name("preset_job_ids.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_preset_job_ids_unchanged(name):
    assert sorted(job.id for job in expand(load_spec(name)).jobs) == RECORDED[name]


def test_every_preset_is_recorded():
    assert set(preset_names()) == set(RECORDED)
