import subprocess
import sys

from priorlab.experiments import expand
from priorlab.experiments.store import Registry


def _dead_owner() -> str:
    import socket

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _finished_dir(reg, job_id):
    """What a worker leaves for a finished job (a run: cell.json and summary.json)."""
    path = reg.job_dir(job_id)
    path.mkdir(parents=True)
    for name in ("cell.json", "summary.json"):
        (path / name).write_text("{}")


def test_a_job_is_claimed_once(tmp_path, tiny_spec):
    jobs = expand(tiny_spec).jobs
    a, b = Registry(tmp_path), Registry(tmp_path)  # two processes' connections
    a.add(jobs)
    b.add(jobs)  # re-adding keeps the state
    assert a.claim(jobs[0].id, "x:1") is True
    assert b.claim(jobs[0].id, "y:2") is False
    assert b.status(jobs[0].id) == "running"
    a.finish(jobs[0].id)
    row = b.rows({jobs[0].id})[0]
    assert row["status"] == "done" and row["attempts"] == 1 and row["seconds"] >= 0
    assert b.counts()["done"] == 1 and b.counts()["pending"] == len(jobs) - 1


def test_recover_resets_interrupted_failed_and_vanished_jobs(tmp_path, tiny_spec):
    jobs = expand(tiny_spec).jobs
    reg = Registry(tmp_path)
    reg.add(jobs)
    dead, failed, vanished, alive, kept = (j.id for j in jobs[:5])
    reg.claim(dead, _dead_owner())
    reg.claim(failed, "x:1")
    reg.finish(failed, error="boom")
    reg.claim(vanished, "x:1")
    reg.finish(vanished)  # done, but its directory does not exist
    reg.claim(alive, f"{__import__('socket').gethostname()}:{__import__('os').getpid()}")
    reg.claim(kept, "x:1")
    reg.finish(kept)
    _finished_dir(reg, kept)
    assert reg.recover(jobs) == {"missing": 1, "failed": 1, "interrupted": 1, "adopted": 0}
    assert [reg.status(i) for i in (dead, failed, vanished, alive, kept)] == [
        "pending",
        "pending",
        "pending",
        "running",  # its owner (this process) is alive: nobody else may take it
        "done",
    ]
    row = reg.rows({failed})[0]
    assert row["attempts"] == 1  # attempts count claims; the retry adds one


def test_a_running_row_is_taken_back_when_its_lease_expires_whatever_its_host(
    tmp_path, tiny_spec, monkeypatch
):
    """Before leases, a row owned by another host name was assumed alive forever."""
    import time

    from priorlab.experiments import store

    jobs = expand(tiny_spec).jobs
    reg = Registry(tmp_path)
    reg.add(jobs)
    stale, fresh = jobs[0].id, jobs[1].id
    reg.claim(stale, "another-host:123")
    reg.claim(fresh, "another-host:124")
    old = time.time() - store.LEASE_S - 1
    reg.db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (old, stale))
    assert reg.recover(jobs)["interrupted"] == 1
    assert reg.status(stale) == "pending"
    assert reg.status(fresh) == "running"  # its lease is fresh: another host may be on it
    reg.renew("another-host:124")
    assert reg.rows({fresh})[0]["heartbeat"] >= old


def test_a_job_dir_without_its_last_files_is_not_done(tmp_path, tiny_spec):
    """A run whose summary.json was deleted is redone, not reported as done."""
    jobs = expand(tiny_spec).jobs
    reg = Registry(tmp_path)
    reg.add(jobs)
    run = next(j for j in jobs if j.kind == "run")
    reg.claim(run.id, "x:1")
    reg.finish(run.id)
    _finished_dir(reg, run.id)
    (reg.job_dir(run.id) / "summary.json").unlink()
    assert reg.recover(jobs)["missing"] == 1
    assert reg.status(run.id) == "pending"


def test_a_rebuilt_registry_adopts_the_finished_jobs_on_disk(tmp_path, tiny_spec):
    jobs = expand(tiny_spec).jobs
    reg = Registry(tmp_path)
    reg.add(jobs)
    run = next(j for j in jobs if j.kind == "run")
    _finished_dir(reg, run.id)
    assert reg.recover(jobs)["adopted"] == 1
    assert reg.status(run.id) == "done"


def test_a_corrupted_registry_is_named(tmp_path):
    import pytest

    from priorlab.errors import PriorlabError

    (tmp_path / "registry.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(PriorlabError, match="registry.sqlite: not a readable registry"):
        Registry(tmp_path)
