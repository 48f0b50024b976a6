"""core.records.jsonl's readers: every line once, offsets, bounded lines, regular files only, the collector."""

from __future__ import annotations

import gc
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import events as ev
from core.records import jsonl as jl


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_iter_lines_gives_a_last_line_without_a_newline(tmp_path):
    path = write(tmp_path / "e.jsonl", b"a\n\nbc\nlast")
    assert list(jl.iter_lines(path)) == [b"a", b"", b"bc", b"last"]
    assert list(jl.iter_lines(write(tmp_path / "n.jsonl", b"a\nb\n"))) == [b"a", b"b"]


def test_iter_lines_starts_at_the_offset(tmp_path):
    path = write(tmp_path / "e.jsonl", b"one\ntwo\nthree\n")
    assert list(jl.iter_lines(path, offset=4)) == [b"two", b"three"]
    assert list(jl.iter_lines(path, offset=6)) == [b"o", b"three"]


def test_lines_across_chunks_are_joined(tmp_path, monkeypatch):
    monkeypatch.setattr(jl, "CHUNK", 3)
    path = write(tmp_path / "e.jsonl", b"abcdefg\nhi\njklmnop")
    assert list(jl.iter_lines(path)) == [b"abcdefg", b"hi", b"jklmnop"]


def test_a_long_line_is_skipped_and_counted_never_held(tmp_path, monkeypatch):
    monkeypatch.setattr(jl, "CHUNK", 4)
    path = write(tmp_path / "e.jsonl", b"ok\n" + b"x" * 25 + b"\nfine\n" + b"y" * 11 + b"\nend" + b"z" * 30)
    skipped = jl.Skipped()
    assert list(jl.iter_lines(path, max_line=10, skipped=skipped)) == [b"ok", b"fine"]
    assert (skipped.long_lines, skipped.long_bytes) == (3, 25 + 11 + 33)
    assert "3 line(s) longer than" in str(skipped)


def test_a_record_of_nul_bytes_reads_in_flat_memory(tmp_path):
    path = tmp_path / "events.jsonl"
    with open(path, "wb") as fh:
        fh.truncate(48 * jl.CHUNK)  # 48 MiB of NUL bytes, no newline (sparse: cheap to make)
    skipped = jl.Skipped()
    tracemalloc.start()
    try:
        assert jl.read_jsonl(path, skipped=skipped) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert skipped.long_lines == 1 and skipped.long_bytes == 48 * jl.CHUNK
    assert peak < 8 * jl.MAX_LINE  # a few chunks, not the 48 MiB


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link to a device"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = tmp_path / "events.jsonl"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it without O_NONBLOCK would wait for ever
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path = "/dev/zero"
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(jl.NotRegularFile, match="not a regular file"):
        list(jl.iter_lines(path))


def test_a_link_to_a_regular_record_is_followed(tmp_path):
    target = write(tmp_path / "real.jsonl", b"a\n")
    (tmp_path / "events.jsonl").symlink_to(target)
    assert list(jl.iter_lines(tmp_path / "events.jsonl")) == [b"a"]


def test_read_jsonl_leaves_the_collector_as_it_found_it(tmp_path):
    event = ev.LogLine(run_id="r", level="info", message="hi")
    path = write(tmp_path / "e.jsonl", jl.to_json_bytes(event) + b"\ntorn{")
    assert gc.isenabled()
    assert jl.read_jsonl(path) == [event]
    assert gc.isenabled()
    gc.disable()
    try:
        jl.read_jsonl(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_read_jsonl_keeps_a_last_event_without_a_newline(tmp_path):
    first, last = ev.LogLine(run_id="r", level="info", message="a"), ev.LogLine(run_id="r", level="info", message="b")
    path = write(tmp_path / "e.jsonl", jl.to_json_bytes(first) + b"\n" + jl.to_json_bytes(last))
    assert jl.read_jsonl(path) == [first, last]


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), chunk=st.integers(1, 9),
       max_line=st.integers(1, 30))
def test_iter_lines_is_split_lines_minus_the_long_ones(tmp_path_factory, data, chunk, max_line):
    path = tmp_path_factory.mktemp("lines") / "e.jsonl"
    path.write_bytes(data)
    saved, jl.CHUNK = jl.CHUNK, chunk
    try:
        skipped = jl.Skipped()
        got = list(jl.iter_lines(path, max_line=max_line, skipped=skipped))
    finally:
        jl.CHUNK = saved
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    assert got == [line for line in lines if len(line) <= max_line]
    assert skipped.long_lines == sum(len(line) > max_line for line in lines)
