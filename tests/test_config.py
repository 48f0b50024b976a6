"""TrainConfig: fields described once, structured problems, JSON/TOML round trip, hostile files refused clearly."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from core.config import FIELDS, WIDGETS, TrainConfig, parse_epochs, parse_hidden
from core.config_files import read_settings
from core.problems import ConfigError, Problem


def test_defaults_are_valid_and_described():
    cfg = TrainConfig()
    assert cfg.validate() is cfg
    assert cfg.layer_sizes == (196, 64, 32, 10)
    assert cfg.parameter_count() == 197 * 64 + 65 * 32 + 33 * 10
    assert (cfg.threads, cfg.cuda_graphs) == (0, False)


def test_every_field_is_described_once():
    assert list(FIELDS) == [f.name for f in fields(TrainConfig)]
    for name, info in FIELDS.items():
        assert info.name == name and info.flag == "--" + name.replace("_", "-")
        assert info.widget in WIDGETS and info.label and info.help and "--" not in info.help
        assert info.default == getattr(TrainConfig(), name)
        assert bool(info.choices) == (info.widget == "choice")
        if info.choices:
            assert info.default in info.choices
    assert FIELDS["cuda_graphs"].widget == "bool" and FIELDS["hidden"].widget == "sizes"
    assert FIELDS["lr"].label == "learning rate" and FIELDS["input_size"].choices == (28, 14, 7)


def test_every_problem_is_reported_at_once_with_field_value_and_allowed():
    cfg = TrainConfig(backend="numpy", lr=-1.0, batch_size=0, input_size=13, activation="gelu", hidden=(0,))
    assert cfg.problems() == [
        Problem("backend", "'numpy' is not one of scalar, lightning"),
        Problem("hidden", "0: each layer size must be 1..4096"),
        Problem("activation", "'gelu' is not one of relu, tanh, sigmoid"),
        Problem("lr", "-1.0 must be > 0 and <= 10.0"),
        Problem("batch_size", "0 must be between 1 and 65536"),
        Problem("input_size", "13 is not one of 28, 14, 7"),
    ]
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.problems == cfg.problems()
    assert str(info.value).startswith("backend: 'numpy' is not one of scalar, lightning; hidden: 0:")


def test_problems_never_spell_flags_and_are_checked_once():
    bad = TrainConfig(backend="scalar", devices=2, num_nodes=3)
    assert bad.problems() == [
        Problem("devices", "the handmade engine runs on one CPU core; multi-device training needs the lightning "
                           "backend"),
        Problem("num_nodes", "the handmade engine runs on one CPU core; multi-device training needs the lightning "
                             "backend"),
    ]
    for cfg in (bad, TrainConfig(lr="x", hidden=(), epochs=-1), TrainConfig(threads=-1, cuda_graphs="yes")):
        assert all("--" not in p.message for p in cfg.problems())
    assert bad.problems() is not bad.problems() and bad._problems is bad._problems  # cached, copies handed out


def test_non_finite_and_wrong_types_are_problems():
    assert TrainConfig(lr=float("nan")).problems() == [Problem("lr", "nan is not a finite number")]
    assert TrainConfig(epochs=2.5).problems() == [Problem("epochs", "2.5 is not a whole number")]
    assert TrainConfig(momentum=1.0).problems() == [Problem("momentum", "1.0 must be >= 0 and < 1")]
    assert TrainConfig(threads=1025).problems() == [Problem("threads", "1025 must be between 0 and 1024 (0 = auto)")]
    assert TrainConfig(cuda_graphs=1).problems() == [Problem("cuda_graphs", "1 must be true or false")]
    assert TrainConfig(backend="lightning", threads=4, cuda_graphs=True).problems() == []


def test_scalar_backend_refuses_multi_device():
    assert TrainConfig(backend="lightning", devices=2, strategy="ddp").problems() == []
    spawn = TrainConfig(backend="lightning", devices=2, strategy="ddp_spawn").problems()
    assert spawn == [Problem("strategy", "'ddp_spawn' is not supported (spawned processes can't report events); "
                                         "use ddp")]
    assert TrainConfig(strategy="ddp\n").problems() == [Problem("strategy", "'ddp\\n' contains a control character")]


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(hidden=(300,), loss="mse", lr=0.1, backend="lightning", seed=7, threads=3, cuda_graphs=True)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    cfg.save(path)
    assert TrainConfig.load(path) == cfg
    assert json.loads(path.read_text())["hidden"] == [300]


def test_toml_load_with_and_without_table(tmp_path):
    (tmp_path / "a.toml").write_text('hidden = [128]\nlr = 1\nbackend = "lightning"\ncuda_graphs = true\n')
    (tmp_path / "b.toml").write_text('[train]\nhidden = "32,16"\nepochs = 2\n')
    a = TrainConfig.load(tmp_path / "a.toml")
    assert a.hidden == (128,) and a.lr == 1.0 and isinstance(a.lr, float) and a.cuda_graphs is True
    b = TrainConfig.load(tmp_path / "b.toml")
    assert b.hidden == (32, 16) and b.epochs == 2
    assert read_settings(tmp_path / "b.toml") == {"hidden": "32,16", "epochs": 2}


def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1, "hiden": [3]})
    assert [p.field for p in info.value.problems] == ["hiden", "learning_rate"]


def test_bad_files_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json: not valid JSON"):
        TrainConfig.load(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        TrainConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.toml").write_text("lr = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrainConfig.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="lr: 'fast' is not a number"):
        TrainConfig.from_dict({"lr": "fast"})
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a table of settings, got list"):
        TrainConfig.load(tmp_path / "list.json")


def _problem(path) -> Problem:
    with pytest.raises(ConfigError) as info:
        TrainConfig.load(path)
    assert info.value.source == f"config file {path}" and len(info.value.problems) == 1
    return info.value.problems[0]


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_binary_file_is_not_utf8_not_a_traceback(tmp_path, suffix):
    path = tmp_path / f"bin{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    assert _problem(path) == Problem("", "not UTF-8 text (byte 0x89 at offset 0); is it a settings file?")


@pytest.mark.parametrize(("suffix", "text"), [(".json", "[" * 100_000), (".toml", "x = " + "[" * 100_000)])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, suffix, text):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    assert _problem(path) == Problem("", "nested too deeply to be a settings file")


def test_huge_numbers_are_clear_problems(tmp_path):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_json('{"lr": 1' + "0" * 400 + "}")  # json gives an int; float() overflows
    assert info.value.problems == [Problem("lr", "1000000000000000000000000000000000000000... (401 characters) "
                                                 "is too large a number")]
    path = tmp_path / "huge.json"
    path.write_text('{"lr": 1' + "0" * 5000 + "}")  # the JSON reader itself refuses (int digit limit)
    problem = _problem(path)
    assert problem.field == "" and problem.message == "not valid JSON (a number has more than 4300 digits)"
    assert TrainConfig(epochs=10**5000).problems() == [
        Problem("epochs", "an integer of 16610 bits must be between 1 and 10000")]


def test_parse_hidden_and_replace():
    assert parse_hidden("64, 32") == (64, 32)
    assert parse_hidden("none") == parse_hidden(" NONE ") == ()
    with pytest.raises(ValueError, match="comma-separated"):
        parse_hidden("64;32")
    with pytest.raises(ValueError, match="or none for a linear classifier"):
        parse_hidden("")  # used to mean a linear model, silently
    with pytest.raises(ValueError, match="comma-separated"):
        parse_hidden("9" * 5000)
    assert TrainConfig().replace(hidden="8", lr="0.5") == TrainConfig(hidden=(8,), lr=0.5)
    assert TrainConfig().replace(cuda_graphs="true").cuda_graphs is True


def test_lr_drop_epochs_parse_round_trip_and_check():
    assert parse_epochs("4, 6") == (4, 6) and parse_epochs("none") == parse_epochs(" ") == ()
    with pytest.raises(ValueError, match="comma-separated epoch numbers"):
        parse_epochs("4;6")
    config = TrainConfig(epochs=6).replace(lr_drop_epochs="4,6")
    assert config.lr_drop_epochs == (4, 6) and config.problems() == []
    assert TrainConfig.from_json(config.to_json()) == config and config.to_dict()["lr_drop_epochs"] == [4, 6]
    assert TrainConfig(epochs=5).replace(lr_drop_epochs=5).lr_drop_epochs == (5,)
    assert TrainConfig(epochs=5, lr_drop_epochs=(1, 6)).problems() == [
        Problem("lr_drop_epochs", "1,6: each epoch must be between 2 and the last epoch (5)")]
    assert TrainConfig(epochs=5, lr_drop_epochs=(4, 4)).problems() == [
        Problem("lr_drop_epochs", "4,4: epochs must be strictly increasing")]
    assert [p.field for p in TrainConfig(lr_drop_epochs=("2",)).problems()] == ["lr_drop_epochs"]
    assert FIELDS["lr_drop_epochs"].flag == "--lr-drop-epochs" and FIELDS["lr_drop_epochs"].widget == "sizes"


def test_boundaries_layers_rate_drops_and_whole_epochs():
    """Issue 20's surviving config mutants, each pinned on its boundary."""
    assert TrainConfig(hidden=(4,) * 8).problems() == []  # > MAX_LAYERS, not >=
    assert TrainConfig(hidden=(4,) * 9).problems() == [Problem("hidden", "9 layers is too many (at most 8)")]
    assert [p.field for p in TrainConfig(lr=0.0).problems()] == ["lr"]  # 0 < lr, not 0 <= lr
    assert TrainConfig(lr=1e-12).problems() == []
    assert [p.field for p in TrainConfig(epochs=3, lr_drop_epochs=(1,)).problems()] == ["lr_drop_epochs"]
    assert TrainConfig(epochs=3, lr_drop_epochs=(2,)).problems() == []  # 2 <= d, not 1 <= d
    half = TrainConfig.from_dict({"epochs": 2.5})
    assert half.epochs == 2.5 and [p.field for p in half.problems()] == ["epochs"]  # never silently 2
    assert TrainConfig.from_dict({"epochs": 2.0}).epochs == 2
