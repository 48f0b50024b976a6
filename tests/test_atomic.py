"""core.atomic: strict JSON (non-finite floats become null, in lists and tuples alike), modes kept."""

from __future__ import annotations

import json
import math
import os

import pytest

from core.atomic import NotRegularTarget, atomic_write_bytes, atomic_write_json


def test_non_finite_floats_become_null_inside_tuples_and_lists(tmp_path):
    path = tmp_path / "s.json"
    atomic_write_json(path, {"a": (1.5, math.nan), "b": [math.inf, (2, -math.inf)], "c": math.nan})
    assert json.loads(path.read_text()) == {"a": [1.5, None], "b": [None, [2, None]], "c": None}


def test_a_rewritten_file_keeps_its_mode(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and (path.stat().st_mode & 0o777) == 0o600


def test_a_non_regular_file_is_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularTarget, match="a FIFO"):
        atomic_write_bytes(fifo, b"x")
    assert fifo.is_fifo() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_link_is_written_through_when_asked_and_kept(tmp_path):
    target = tmp_path / "real.toml"
    target.write_bytes(b"old")
    link = tmp_path / "settings.toml"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new", follow_links=True)
    assert link.is_symlink() and target.read_bytes() == b"new"
