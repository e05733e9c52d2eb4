import subprocess
import sys

from priorlab.experiments import expand
from priorlab.experiments.store import Registry


def _dead_owner() -> str:
    import socket

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


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
    reg.job_dir(kept).mkdir(parents=True)
    assert reg.recover(jobs) == {"missing": 1, "failed": 1, "interrupted": 1}
    assert [reg.status(i) for i in (dead, failed, vanished, alive, kept)] == [
        "pending",
        "pending",
        "pending",
        "running",  # its owner (this process) is alive: nobody else may take it
        "done",
    ]
    row = reg.rows({failed})[0]
    assert row["attempts"] == 1  # attempts count claims; the retry adds one
