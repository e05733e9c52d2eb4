"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every writer puts its bytes into a unique temporary sibling (`<name>.tmp-<pid>-<hex>`, in
the same directory so the rename stays on one file system), then `os.replace`s it onto
the final name; on failure the temporary file is removed and the old file is untouched.
JSON goes through `write_json_atomic`, with NaN and infinities as null (`finite`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TMP_MARK = ".tmp-"  # what every temporary name holds after the final name


def temp_sibling(path: str | os.PathLike) -> Path:
    """A fresh name beside `path` for its temporary file: unique across processes (pid)
    and across threads or repeated calls in one process (a random suffix)."""
    path = Path(path)
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path for a writer that wants a file name (pandas, safetensors,
    matplotlib); on a clean exit it replaces `path`, on an exception it is removed.

        with atomic_path(out / "samples.parquet") as tmp:
            df.to_parquet(tmp, index=False)
    """
    tmp = temp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful replace


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (the platform's default encoding, as
    `Path.write_text`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def finite(obj):
    """A JSON-ready copy in which NaN and infinities are null: JSON has no NaN, and a bare
    `NaN` token breaks strict readers (jq, browsers, other languages)."""
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: Path, data) -> None:
    """`data` as indented JSON (NaN as null: `finite`), written atomically."""
    atomic_write_text(path, json.dumps(finite(data), indent=2, default=str, allow_nan=False))
