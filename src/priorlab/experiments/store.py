"""The run store: a directory per job and a SQLite registry of their states.

    SWEEP/registry.sqlite        one row per job: pending / running / done / failed
    SWEEP/priors/<id>/           a pretrained prior (policy files, config.json)
    SWEEP/runs/<id>/             config.json, metrics.jsonl, samples_{initial,final}.parquet,
                                 summary.json, policy/ (safetensors), cell.json, log.txt

A job writes into `<id>.tmp/` and the directory is renamed to `<id>/` only once the job
has finished, so a crashed job never looks done. A job is claimed by one UPDATE that
succeeds only on a pending row, so two workers never take the same job. Rows left
`running` by a sweep that died (its owner process is gone) go back to pending.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

from priorlab.experiments.spec import Job

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    labels TEXT NOT NULL,
    config TEXT NOT NULL,
    deps TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    host TEXT,
    started REAL,
    finished REAL,
    seconds REAL,
    error TEXT
)
"""
STATES = ("pending", "running", "done", "failed")


def owner_tag() -> str:
    """host:pid of this process, recorded on the rows it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Is the process that claimed a row still running? (Other hosts: assumed alive.)"""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class Registry:
    """SQLite registry of a sweep's jobs; safe to share between processes on one host."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "registry.sqlite"
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def job_dir(self, job: Job | str, kind: str | None = None) -> Path:
        job_id = job if isinstance(job, str) else job.id
        kind = kind or (job.kind if isinstance(job, Job) else {"p": "prior", "r": "run"}[job[0]])
        return self.root / ("priors" if kind == "prior" else "runs") / job_id

    # --- states -------------------------------------------------------------------------

    def add(self, jobs: list[Job]) -> None:
        """Insert new jobs as pending; a known job keeps its state (its labels are updated)."""
        with self.db:
            for j in jobs:
                self.db.execute(
                    "INSERT INTO jobs (id, kind, labels, config, deps) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET labels = excluded.labels",
                    (
                        j.id,
                        j.kind,
                        json.dumps(j.labels, sort_keys=True),
                        json.dumps(j.config, sort_keys=True, default=str),
                        json.dumps(list(j.deps)),
                    ),
                )

    def recover(self, jobs: list[Job]) -> dict[str, int]:
        """Before a sweep: done rows whose directory vanished, failed rows, and running rows
        whose owner died all go back to pending. Returns how many of each were reset."""
        ids = {j.id for j in jobs}
        counts = {"missing": 0, "failed": 0, "interrupted": 0}
        for row in self.rows(ids):
            reason = None
            if row["status"] == "done" and not self.job_dir(row["id"], row["kind"]).is_dir():
                reason = "missing"
            elif row["status"] == "failed":
                reason = "failed"
            elif row["status"] == "running" and not _alive(row["owner"]):
                reason = "interrupted"
            if reason:
                self.db.execute(
                    "UPDATE jobs SET status = 'pending', owner = NULL WHERE id = ?", (row["id"],)
                )
                counts[reason] += 1
        return counts

    def claim(self, job_id: str, owner: str) -> bool:
        """Atomically move a pending job to running; False if someone else holds it."""
        cur = self.db.execute(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, owner = ?, "
            "host = ?, started = ?, error = NULL WHERE id = ? AND status = 'pending'",
            (owner, socket.gethostname(), time.time(), job_id),
        )
        return cur.rowcount == 1

    def finish(self, job_id: str, *, error: str | None = None, host: str | None = None) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE jobs SET status = ?, finished = ?, seconds = ? - started, error = ?, "
            "host = COALESCE(?, host), owner = NULL WHERE id = ?",
            ("failed" if error else "done", now, now, error, host, job_id),
        )

    def rows(self, ids=None) -> list[dict]:
        cur = self.db.execute("SELECT * FROM jobs ORDER BY kind, id")
        names = [d[0] for d in cur.description]
        out = [dict(zip(names, r)) for r in cur.fetchall()]
        return [r for r in out if ids is None or r["id"] in ids]

    def status(self, job_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def counts(self, ids=None) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self.rows(ids):
            out[r["status"]] += 1
        return out
