"""core.settings: chart settings per user, tolerant of damaged files, written atomically."""

from __future__ import annotations

import os
import tomllib

import pytest

from core.settings import ChartSettings, load_settings, save_settings, settings_path


def test_missing_file_gives_defaults_and_no_message(tmp_path):
    assert load_settings(tmp_path / "none.toml") == (ChartSettings(), None)


def test_saved_settings_load_back(tmp_path):
    wanted = ChartSettings(smoothing=0.9, log_loss=True, x_axis="time", window=500, y_mode="outliers")
    path = save_settings(wanted, tmp_path / "deep" / "settings.toml")
    assert load_settings(path) == (wanted, None)
    assert "[chart]" in path.read_text() and not [p for p in path.parent.iterdir() if p.name != "settings.toml"]


def test_default_path_is_the_user_config_dir():
    path = settings_path()
    assert path == __import__("pathlib").Path(os.environ["XDG_CONFIG_HOME"]) / "mnist-dash" / "settings.toml"
    save_settings(ChartSettings(smoothing=0.3))
    assert load_settings()[0].smoothing == 0.3


def test_corrupt_file_gives_defaults_and_a_message(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes(b"[chart\nsmoothing = \xff")
    settings, message = load_settings(path)
    assert settings == ChartSettings() and "defaults used" in message and str(path) in message


def test_bad_values_are_ignored_one_by_one(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[chart]\nsmoothing = 1.5\nx_axis = "epoch"\nwindow = -3\nlog_loss = "yes"\ncolour = 1\n')
    settings, message = load_settings(path)
    assert settings == ChartSettings(x_axis="epoch")
    for part in ("smoothing must be a number from 0 to 0.999", "window must be", "log_loss must be",
                 "unknown setting 'colour'"):
        assert part in message
    path.write_text("chart = 3\n")
    assert load_settings(path) == (ChartSettings(), f"{path}: [chart] is not a table; defaults used")


def test_steps_of_the_controls():
    s = ChartSettings(smoothing=0.6)
    assert s.smoother(1).smoothing == 0.8 and s.smoother(-1).smoothing == 0.3
    assert ChartSettings(smoothing=0.999).smoother(1).smoothing == 0.999
    assert ChartSettings(smoothing=0.0).smoother(-1).smoothing == 0.0
    assert ChartSettings(smoothing=0.65).smoother(-1).smoothing == 0.6
    assert [ChartSettings(x_axis=a).next_x_axis().x_axis for a in ("step", "epoch", "samples", "time")] == [
        "epoch", "samples", "time", "step"]
    windows, s = [], ChartSettings()
    for _ in range(7):
        s = s.next_window()
        windows.append(s.window)
    assert windows == [100, 500, 2000, 10000, 50000, 0, 100]
    assert ChartSettings().next_y_mode().y_mode == "outliers"


def _in_thread(function, *args):
    """Call function(*args) in a daemon thread (a regression that blocks on a FIFO fails, never hangs the suite)."""
    import threading

    out: list = []
    worker = threading.Thread(target=lambda: out.append(function(*args)), daemon=True)
    worker.start()
    worker.join(30)
    assert out, f"{function.__name__} blocked"
    return out[0]


def test_a_fifo_as_settings_file_is_named_never_opened(tmp_path):
    path = tmp_path / "settings.toml"
    os.mkfifo(path)
    settings, message = _in_thread(load_settings, path)
    assert settings == ChartSettings()
    assert message == f"{path}: chart settings ignored, defaults used: {path} is a FIFO, not a regular file"
    with pytest.raises(OSError, match="a FIFO, not a regular file: not replaced"):
        save_settings(ChartSettings(smoothing=0.9), path)
    assert os.path.exists(path) and not path.is_file()  # still the FIFO


def test_a_symlinked_settings_file_is_written_through_its_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "mnist-dash.toml"
    save_settings(ChartSettings(smoothing=0.3), target)
    link = tmp_path / "config" / "settings.toml"
    link.parent.mkdir()
    link.symlink_to(target)
    save_settings(ChartSettings(smoothing=0.9, log_loss=True), link)
    assert link.is_symlink() and link.resolve() == target
    assert load_settings(target)[0] == ChartSettings(smoothing=0.9, log_loss=True)
    assert load_settings(link)[0] == ChartSettings(smoothing=0.9, log_loss=True)


def test_a_fifo_as_config_file_is_refused_not_waited_on(tmp_path):
    from core.config_files import read_settings
    from core.problems import ConfigError

    path = tmp_path / "train.toml"
    os.mkfifo(path)

    def read() -> str:
        try:
            read_settings(path)
        except ConfigError as exc:
            return str(exc)
        return "read"

    assert "is a FIFO, not a regular file" in _in_thread(read)


def test_saving_the_chart_keeps_the_other_tables(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[terminal]\non_hangup = "stop"\nnotify = false\n\n[chart]\nsmoothing = 0.5\n')
    save_settings(ChartSettings(smoothing=0.9), path)
    data = tomllib.loads(path.read_text())
    assert data["terminal"] == {"on_hangup": "stop", "notify": False}
    assert data["chart"]["smoothing"] == 0.9
