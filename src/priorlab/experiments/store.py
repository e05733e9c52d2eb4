"""The run store: a directory per job and a SQLite registry of their states.

    SWEEP/registry.sqlite        one row per job: pending / running / done / failed
    SWEEP/priors/<id>/           a pretrained prior (policy files, config.json); a prior
                                 given as a model has no job, row or directory here
    SWEEP/runs/<id>/             config.json, metrics.jsonl, samples_{initial,final}.parquet,
                                 summary.json, policy/ (safetensors), cell.json, log.txt

A job writes into `<id>.tmp-<pid>-<hex>/` and the directory is renamed to `<id>/` only once
the job has finished, so a directory `<id>/` means done and a crashed job never looks done. A
job is claimed by one UPDATE that succeeds only on a pending row, so two sweep processes
never take the same job.

Liveness is a lease, as in job queues that survive lost nodes: the sweep process that
claimed a row renews its `heartbeat` every few seconds while the job runs. A row left
`running` is taken back when its lease has expired (LEASE_S without a heartbeat), whatever
host or PID owned it; on the owner's own host a dead PID frees it at once. The host id is
the host name, or PRIORLAB_HOST_ID where containers or nodes change names.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

from priorlab.errors import PriorlabError
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
    error TEXT,
    heartbeat REAL
)
"""
STATES = ("pending", "running", "done", "failed")
LEASE_S = float(os.environ.get("PRIORLAB_LEASE_S", 60))  # a running row's lease
RENEW_S = LEASE_S / 6  # how often its owner renews it


def host_id() -> str:
    return os.environ.get("PRIORLAB_HOST_ID") or socket.gethostname()


def owner_tag() -> str:
    """host:pid of this process, recorded on the rows it claims."""
    return f"{host_id()}:{os.getpid()}"


def _dead_here(owner: str | None) -> bool:
    """Did the owner run on this host, in a process that is gone? (Elsewhere: unknown.)"""
    host, _, pid = (owner or "").rpartition(":")
    if host != host_id():
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return True
    except PermissionError:
        return False
    return False


def lease_expired(row: dict, now: float | None = None) -> bool:
    """A running row whose owner has not renewed its lease for LEASE_S, or died here."""
    beat = row.get("heartbeat") or row.get("started") or 0.0
    return (now or time.time()) - beat > LEASE_S or _dead_here(row["owner"])


class Registry:
    """SQLite registry of a sweep's jobs, shared by the sweep processes of one directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "registry.sqlite"
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(jobs)")}
            if "heartbeat" not in columns:  # a registry written before leases
                self.db.execute("ALTER TABLE jobs ADD COLUMN heartbeat REAL")
        except sqlite3.DatabaseError as e:
            raise PriorlabError(
                f"{self.path}: not a readable registry ({e}); move it aside "
                f"(mv {self.path} {self.path}.bad) and rerun: finished jobs on disk are kept"
            ) from None

    def close(self) -> None:
        self.db.close()

    def job_dir(self, job: Job | str, kind: str | None = None) -> Path:
        job_id = job if isinstance(job, str) else job.id
        kind = kind or (job.kind if isinstance(job, Job) else {"p": "prior", "r": "run"}[job[0]])
        return self.root / ("priors" if kind == "prior" else "runs") / job_id

    def finished_on_disk(self, job_id: str, kind: str | None = None) -> bool:
        """The job's directory holds what a finished job leaves: cell.json (the worker's
        last file) and, for a run, summary.json."""
        path = self.job_dir(job_id, kind)
        needed = ["cell.json"] + (["summary.json"] if path.parent.name == "runs" else [])
        return all((path / name).is_file() for name in needed)

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
        whose lease expired go back to pending; pending rows whose finished directory is on
        disk (a registry rebuilt after corruption) become done. Returns the counts."""
        ids = {j.id for j in jobs}
        counts = {"missing": 0, "failed": 0, "interrupted": 0, "adopted": 0}
        for row in self.rows(ids):
            on_disk = self.finished_on_disk(row["id"], row["kind"])
            if row["status"] == "pending" and on_disk:
                self.db.execute(
                    "UPDATE jobs SET status = 'done', finished = ? WHERE id = ?",
                    (time.time(), row["id"]),
                )
                counts["adopted"] += 1
                continue
            reason = None
            if row["status"] == "done" and not on_disk:
                reason = "missing"
            elif row["status"] == "failed":
                reason = "failed"
            elif row["status"] == "running" and lease_expired(row):
                reason = "interrupted"
            if reason and self.release(row["id"], row["status"], row["owner"]):
                counts[reason] += 1
        return counts

    def release(self, job_id: str, status: str, owner: str | None) -> bool:
        """Back to pending, only if the row is still as it was read (another process may
        have released or finished it since)."""
        cur = self.db.execute(
            "UPDATE jobs SET status = 'pending', owner = NULL, heartbeat = NULL "
            "WHERE id = ? AND status = ? AND owner IS ?",
            (job_id, status, owner),
        )
        return cur.rowcount == 1

    def claim(self, job_id: str, owner: str) -> bool:
        """Atomically move a pending job to running; False if someone else holds it."""
        now = time.time()
        cur = self.db.execute(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, owner = ?, "
            "host = ?, started = ?, heartbeat = ?, error = NULL "
            "WHERE id = ? AND status = 'pending'",
            (owner, owner.rpartition(":")[0], now, now, job_id),
        )
        return cur.rowcount == 1

    def renew(self, owner: str) -> None:
        """Renew the lease of every row `owner` holds."""
        self.db.execute(
            "UPDATE jobs SET heartbeat = ? WHERE owner = ? AND status = 'running'",
            (time.time(), owner),
        )

    def finish(self, job_id: str, *, error: str | None = None, host: str | None = None) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE jobs SET status = ?, finished = ?, seconds = ? - started, error = ?, "
            "host = COALESCE(?, host), owner = NULL, heartbeat = NULL WHERE id = ?",
            ("failed" if error else "done", now, now, error, host, job_id),
        )

    def rows(self, ids=None) -> list[dict]:
        """The jobs' rows (those in `ids`), each checked as this code reads it (_readable)."""
        cur = self.db.execute("SELECT * FROM jobs ORDER BY kind, id")
        names = [d[0] for d in cur.description]
        out = [dict(zip(names, r)) for r in cur.fetchall()]
        return [self._readable(r) for r in out if ids is None or r["id"] in ids]

    def _readable(self, row: dict) -> dict:
        """A row this code knows: a known kind and status, JSON labels, config and deps;
        otherwise one PriorlabError naming the file, the row and what to do."""
        problem = None
        if row.get("kind") not in ("prior", "run"):
            problem = f"kind {row.get('kind')!r} (known: prior, run)"
        elif row.get("status") not in STATES:
            problem = f"status {row.get('status')!r} (known: {', '.join(STATES)})"
        else:
            for name in ("labels", "config", "deps"):
                try:
                    json.loads(row[name])
                except (TypeError, ValueError):
                    problem = f"{name} is not JSON ({str(row[name])[:40]!r})"
                    break
        if problem:
            raise PriorlabError(
                f"{self.path}: job {row.get('id')!r} has {problem}; it was written by another "
                f"version or damaged: move it aside (mv {self.path} {self.path}.bad) and rerun "
                "to rebuild it from the finished jobs on disk, or remove the sweep directory"
            )
        return row

    def row(self, job_id: str) -> dict | None:
        rows = self.rows({job_id})
        return rows[0] if rows else None

    def status(self, job_id: str) -> str | None:
        cur = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        row = cur.fetchone()
        if row is None:
            return None
        return self._readable(dict(zip([d[0] for d in cur.description], row)))["status"]

    def counts(self, ids=None) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        for r in self.rows(ids):
            out[r["status"]] += 1
        return out
