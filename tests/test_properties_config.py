"""Property tests: any flag value or config file ends in a saved config (0) or clear lines (2), never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.config import FIELDS, TrainConfig
from core.config_files import read_settings
from core.problems import ConfigError, plain, show

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FLAGS = [info.flag for info in FIELDS.values()]
KEYS = st.sampled_from(list(FIELDS)) | st.text(max_size=12)
DIGITS = st.integers(1, 6000).map(lambda n: "9" * n)
VALUES = st.text(max_size=40) | DIGITS | st.sampled_from(["", " ", "none", "nan", "-inf", "1e999", "0x10", "+3",
                                                          "٣", "64,", ",", "1_000", "\x00", "true", "-1"])
JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-10**500, 10**500)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("props")


def run(*args: str) -> tuple[int, str]:
    """main() in this process: the exit status and stderr; any exception but argparse's exit fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(list(args))
        except SystemExit as exc:
            status = exc.code
    return status, err.getvalue()


def check(status: int, err: str, saved: Path) -> None:
    """0 with a config that loads back, or 2 with only `mnist-dash:` lines ending in the pointer to --help."""
    assert status in (0, 2), err
    if status == 2:
        lines = err.splitlines()
        assert lines and all(line.startswith("mnist-dash: ") for line in lines), err
        assert lines[-1] == "mnist-dash: see mnist-dash --help"
    else:
        assert err == ""
        TrainConfig.load(saved).validate()
        saved.unlink()


@FAST
@given(flag=st.sampled_from(FLAGS), value=VALUES)
def test_any_value_of_any_flag(folder, flag, value):
    out = folder / "flag.toml"
    check(*run(f"{flag}={value}", "--save-config", str(out)), out)


@FAST
@given(values=st.dictionaries(st.sampled_from(FLAGS), VALUES, max_size=5))
def test_any_combination_of_flags(folder, values):
    out = folder / "combo.json"
    check(*run(*[f"{k}={v}" for k, v in values.items()], "--save-config", str(out)), out)


@FAST
@given(addresses=st.lists(st.text(max_size=12) | DIGITS.map(lambda d: f"L0.N0.w{d}"), min_size=1, max_size=3),
       backend=st.sampled_from(["scalar", "lightning"]))
def test_any_watch_address(folder, addresses, backend):
    out = folder / "watch.json"
    args = [f"--watch={a}" for a in addresses]
    check(*run("--backend", backend, *args, "--save-config", str(out)), out)


@FAST
@given(data=st.dictionaries(KEYS, JSON_VALUES, max_size=6) | JSON_VALUES)
def test_any_json_config_file(folder, data):
    path, out = folder / "any.json", folder / "out.toml"
    path.write_text(json.dumps(data))
    check(*run("--config", str(path), "--save-config", str(out)), out)


TOML_SCALARS = (st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=True) | st.text(max_size=20))
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


@FAST
@given(data=st.dictionaries(KEYS, TOML_VALUES, max_size=6), table=st.booleans())
def test_any_toml_config_file(folder, data, table):
    path, out = folder / "any.toml", folder / "out.json"
    path.write_text(tomli_w.dumps({"train": data} if table else data))
    check(*run("--config", str(path), "--save-config", str(out)), out)


@FAST
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".json", ".toml"]))
def test_any_bytes_as_a_config_file(folder, data, suffix):
    path, out = folder / f"bytes{suffix}", folder / "out.json"
    path.write_bytes(data)
    check(*run("--config", str(path), "--save-config", str(out)), out)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(500, 200_000), suffix=st.sampled_from([".json", ".toml"]),
       opener=st.sampled_from(["[", "{\"a\":", "[{\"a\":"]))
def test_deep_nesting_as_a_config_file(folder, depth, suffix, opener):
    path, out = folder / f"deep{suffix}", folder / "out.json"
    body = opener * depth if suffix == ".json" else "a = " + "[" * depth
    path.write_text(body)
    status, err = run("--config", str(path), "--save-config", str(out))
    # refused as nested too deeply, or (past 1 MiB) as too big to be a settings file: one line, exit 2, either way
    assert status == 2 and ("nested too deeply" in err or "not valid" in err or "too big" in err), err


@FAST
@given(data=st.dictionaries(KEYS, JSON_VALUES, max_size=6) | JSON_VALUES)
def test_core_raises_only_config_error(data):
    try:
        config = TrainConfig.from_dict(data)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p.message, str) and names_no_flag(p.message, data)
                                    for p in exc.problems)
        return
    for problem in config.problems():  # whatever got through coercion is checked without raising
        assert problem.field in FIELDS and names_no_flag(problem.message, data)


def names_no_flag(message: str, data) -> bool:
    """Core speaks of fields, never of the CLI's flags; the user's own input quoted back ('--') may hold anything."""
    for part in sorted(parts(data), key=len, reverse=True):
        message = message.replace(part, "")
    return "--" not in message


def parts(value) -> set[str]:
    """Every way a message may quote this value or anything inside it."""
    shown = {show(value), show(value, quote=False), plain(value)}
    children = [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        shown |= parts(child)
    return shown


def test_names_no_flag_tells_a_quoted_value_from_a_flag():
    assert names_no_flag("'--' is not one of scalar, lightning", {"backend": "--"})
    assert not names_no_flag("use --lr instead", {"lr": "x"})


def test_read_settings_returns_a_dict_for_a_valid_file(folder):
    path = folder / "ok.toml"
    path.write_text("[train]\nlr = 0.5\n")
    assert read_settings(path) == {"lr": 0.5}
