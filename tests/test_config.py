"""TrainConfig: defaults valid, every problem reported at once, JSON/TOML round trip, unknown keys rejected."""

from __future__ import annotations

import json

import pytest

from core.config import ConfigError, TrainConfig, parse_hidden


def test_defaults_are_valid_and_described():
    cfg = TrainConfig()
    assert cfg.validate() is cfg
    assert cfg.layer_sizes == (196, 64, 32, 10)
    assert cfg.parameter_count() == 197 * 64 + 65 * 32 + 33 * 10


def test_every_problem_is_reported_at_once_with_field_value_and_allowed():
    cfg = TrainConfig(backend="numpy", lr=-1.0, batch_size=0, input_size=13, activation="gelu", hidden=(0,))
    problems = cfg.problems()
    text = "\n".join(problems)
    assert len(problems) == 6
    assert "backend: 'numpy' is not one of scalar, lightning" in text
    assert "lr: -1.0 must be > 0" in text
    assert "batch_size: 0 must be between 1" in text
    assert "input_size: 13 is not one of 28, 14, 7" in text
    assert "activation: 'gelu'" in text and "relu" in text
    assert "hidden:" in text
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.problems == problems


def test_non_finite_and_wrong_types_are_problems():
    assert any("lr" in p for p in TrainConfig(lr=float("nan")).problems())
    assert any("epochs" in p for p in TrainConfig(epochs=2.5).problems())
    assert any("momentum" in p for p in TrainConfig(momentum=1.0).problems())


def test_scalar_backend_refuses_multi_device():
    problems = TrainConfig(backend="scalar", devices=2).problems()
    assert problems and "lightning" in problems[0]
    assert TrainConfig(backend="lightning", devices=2, strategy="ddp").problems() == []
    spawn = TrainConfig(backend="lightning", devices=2, strategy="ddp_spawn").problems()
    assert spawn == ["strategy: 'ddp_spawn' is not supported (spawned processes can't report events); use ddp"]


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(hidden=(300,), loss="mse", lr=0.1, backend="lightning", seed=7)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    cfg.save(path)
    assert TrainConfig.load(path) == cfg
    assert json.loads(path.read_text())["hidden"] == [300]


def test_toml_load_with_and_without_table(tmp_path):
    (tmp_path / "a.toml").write_text('hidden = [128]\nlr = 1\nbackend = "lightning"\n')
    (tmp_path / "b.toml").write_text('[train]\nhidden = "32,16"\nepochs = 2\n')
    a = TrainConfig.load(tmp_path / "a.toml")
    assert a.hidden == (128,) and a.lr == 1.0 and isinstance(a.lr, float)
    b = TrainConfig.load(tmp_path / "b.toml")
    assert b.hidden == (32, 16) and b.epochs == 2


def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1, "hiden": [3]})
    assert [p.split(":")[0] for p in info.value.problems] == ["hiden", "learning_rate"]


def test_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: config: not valid JSON"):
        TrainConfig.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        TrainConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.toml").write_text("lr = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrainConfig.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="lr: 'fast' is not a number"):
        TrainConfig.from_dict({"lr": "fast"})


def test_parse_hidden_and_replace():
    assert parse_hidden("64, 32") == (64, 32)
    assert parse_hidden("none") == ()
    with pytest.raises(ValueError, match="comma-separated"):
        parse_hidden("64;32")
    assert TrainConfig().replace(hidden="8", lr="0.5") == TrainConfig(hidden=(8,), lr=0.5)
