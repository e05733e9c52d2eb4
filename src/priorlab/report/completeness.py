"""Does the report cover exactly its sweep? The runs on disk checked against the sweep's own
record of its jobs (jobs.json, written by `priorlab compare`) and their registry states.

A run of the sweep is *included* when its directory holds summary.json, *failed* when the
registry says so (its error is kept: the report lists it and leaves it out), and *missing*
otherwise (pending, interrupted, or its files vanished). A report with missing runs is
refused unless asked for as partial, and then says PARTIAL in its verdict line; a report
never passes off part of a sweep as the whole. Runs on disk that are not the sweep's jobs
(left by an earlier spec of an extended sweep) are ignored and counted.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from priorlab.errors import DataError, PriorlabError

JOBS_FILE = "jobs.json"
SHOWN = 5  # ids named in a message


def manifest(sweep_dir: Path) -> dict | None:
    """{final, tune: [run ids]} of the sweep's spec, or None for a directory that priorlab
    compare did not write (hand-assembled runs: nothing to check against)."""
    path = sweep_dir / JOBS_FILE
    if not path.is_file():
        return None
    try:
        jobs = json.loads(path.read_text())["jobs"]
        runs = [job for job in jobs if job["kind"] == "run"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: cannot read the sweep's job list ({e})") from None
    return {
        "final": sorted(j["id"] for j in runs if j.get("phase") != "tune"),
        "tune": sorted(j["id"] for j in runs if j.get("phase") == "tune"),
    }


def registry_rows(sweep_dir: Path) -> dict[str, dict]:
    """id -> {status, error, labels} from the sweep's registry ({} if it has none)."""
    path = sweep_dir / "registry.sqlite"
    if not path.is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = db.execute("SELECT id, status, error, labels FROM jobs").fetchall()
        db.close()
    except sqlite3.Error as e:
        raise DataError(f"{path}: not a readable registry ({e})") from None
    return {
        job_id: {"status": status, "error": error, "labels": json.loads(labels)}
        for job_id, status, error, labels in rows
    }


def completeness(sweep_dir: Path, on_disk: set[str], *, partial: bool) -> dict | None:
    """The sweep's final runs split into included / failed / missing (see the module
    docstring); None when the directory has no jobs.json. Raises PriorlabError when runs
    are missing and `partial` is not set."""
    jobs = manifest(sweep_dir)
    if jobs is None:
        return None
    rows = registry_rows(sweep_dir)
    expected = jobs["final"]
    failed = [
        {"run_id": i, "labels": rows[i]["labels"], "error": rows[i]["error"]}
        for i in expected
        if i not in on_disk and rows.get(i, {}).get("status") == "failed"
    ]
    missing = sorted(set(expected) - on_disk - {f["run_id"] for f in failed})
    if missing and not partial:
        named = ", ".join(missing[:SHOWN]) + (" ..." if len(missing) > SHOWN else "")
        raise PriorlabError(
            f"{sweep_dir}: {len(missing)} of the sweep's {len(expected)} runs are not finished "
            f"({named}); finish them with `priorlab compare` on this directory, or pass "
            "--partial for a report marked PARTIAL"
        )
    every = set(jobs["final"]) | set(jobs["tune"])
    return {
        "expected": len(expected),
        "included": len(set(expected) & on_disk),
        "failed": failed,
        "missing": missing,
        "ignored": sorted(on_disk - every),
        "tune_ids": jobs["tune"],
        "final_ids": expected,
    }


def check(record: dict) -> dict:
    """The protocol check "complete": every run of the sweep is in the report."""
    lost = len(record["failed"]) + len(record["missing"])
    detail = f"{record['included']} of {record['expected']} runs"
    if record["failed"]:
        detail += f"; {len(record['failed'])} failed (left out, listed)"
    if record["missing"]:
        detail += f"; {len(record['missing'])} not finished (PARTIAL report)"
    return {"name": "complete", "ok": lost == 0, "detail": detail}


def prefix(record: dict | None) -> str:
    """ "PARTIAL (...): " or "INCOMPLETE (...): " before the verdict line, else ""."""
    if record is None:
        return ""
    if record["missing"]:
        return f"PARTIAL ({record['included']} of {record['expected']} runs): "
    if record["failed"]:
        return f"INCOMPLETE ({len(record['failed'])} of {record['expected']} runs failed): "
    return ""


def tables(record: dict | None) -> list[tuple[str, list[str], list[list[str]]]]:
    """The runs of the sweep that the report leaves out: failed (with the error) and not
    finished; nothing when every run is in."""
    if not record or not (record["failed"] or record["missing"]):
        return []
    rows = [
        [f["run_id"], json.dumps(f["labels"], sort_keys=True), "failed", f["error"] or ""]
        for f in record["failed"]
    ]
    rows += [[run_id, "", "not finished", ""] for run_id in record["missing"]]
    title = "Runs of this sweep left out of the report"
    return [(title, ["run", "labels", "state", "error"], rows)]
