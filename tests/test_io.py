import os

import pytest

from priorlab.io import TMP_MARK, atomic_path, atomic_write_bytes, atomic_write_text, temp_sibling


def test_write_text_and_bytes_replace_the_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "samples.parquet"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["samples.parquet"]


def test_writer_that_creates_nothing_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "x") as _:
        pass  # nothing written: os.replace has no source
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_unique_siblings(tmp_path):
    path = tmp_path / "report.json"
    names = {temp_sibling(path) for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert name.parent == tmp_path
        assert name.name.startswith(f"report.json{TMP_MARK}{os.getpid()}-")
