"""The atomic writer and the writable-folder check (agents/files.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.files import FolderNotWritable, writable_folder, write_atomic, write_json


def test_write_json_round_trips_numpy_values_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"b": np.float32(1.5), "a": np.arange(3)})
    assert json.loads(target.read_text()) == {"a": [0, 1, 2], "b": 1.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"old": 1})
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        write_json(target, {"new": object()})
    assert json.loads(target.read_text()) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_atomic_replaces_the_whole_file(tmp_path):
    target = tmp_path / "blob"
    write_atomic(target, b"first, longer payload")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"


def test_writable_folder_creates_the_folder(tmp_path):
    folder = writable_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_file_in_the_way_is_not_a_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FolderNotWritable, match=r"cannot write to '.*file': File exists"):
        writable_folder(blocker)
