"""The real `mnist-dash` command line in a subprocess: headless runs, records, JSONL, errors, signals, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser, main, refusal, save_config
from core.config import FIELDS, TrainConfig
from core.config_files import read_settings
from core.records.jsonl import from_json, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parents[1] / "shared" / "data" / "mnist"
TINY = ["--train-subset", "64", "--val-subset", "32", "--test-subset", "32", "--epochs", "1", "--input-size", "7"]
RANK_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "WORLD_SIZE", "MNIST_DASH_RUN_ID")


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Deterministic data (the shared IDX files, else the embedded sample), no user cache, no launcher vars."""
    env = {k: v for k, v in os.environ.items() if k not in RANK_VARS and k != "MNIST_DASH_DATA"}
    env.update(PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    if MNIST.is_dir():
        env["MNIST_DASH_DATA"] = str(MNIST)
    env.update(extra)
    return env


def cli(tmp_path: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=tmp_path, env=cli_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=timeout)


def only_run(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def check_record(run: Path, reason: str) -> dict:
    """Every file present, every line valid JSON, summary consistent with the stream."""
    names = {p.name for p in run.iterdir()}
    record = {"checkpoints", "config.json", "data.json", "events.jsonl", "summary.json"}
    assert record <= names <= record | {"control", "run.lock"}  # the steering folder and the writer's lock
    json.loads((run / "config.json").read_text())
    lines = (run / "events.jsonl").read_text().splitlines()
    events = [from_json(line) for line in lines]  # no torn or invalid line
    summary = json.loads((run / "summary.json").read_text())
    final = events[-1]
    assert type(final).__name__ == "RunFinished" and final.reason == reason == summary["reason"]
    assert summary["steps"] == final.steps and summary["run_dir"].endswith(run.name)
    assert any(p.is_file() for p in (run / "checkpoints").iterdir())
    return summary


def test_import_is_cheap():
    heavy = "('torch', 'textual', 'numpy', 'lightning')"
    code = f"import sys, core.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scalar_run_switches_to_headless_when_piped(tmp_path):
    done = cli(tmp_path, *TINY)  # no --headless: stdout is a pipe
    assert done.returncode == 0, done.stderr
    assert "stdout is not a terminal; running headless" in done.stderr
    run = only_run(tmp_path / "runs")
    summary = check_record(run, "completed")
    assert summary["steps"] == 8 and 0 <= summary["test_accuracy"] <= 1 and summary["backend"] == "scalar"
    out = done.stdout
    assert "backend scalar" in out and "config: backend=scalar" in out and "epoch 1/1 done" in out
    assert f"test accuracy {summary['test_accuracy']:.2%}" in out and str(run.name) in out.splitlines()[-1]
    assert "\r" not in out and "Traceback" not in done.stderr
    # The past run reads back, printed, and TERM=dumb is a reason to stay headless as well.
    shown = cli(tmp_path, "--open", str(run), TERM="dumb")
    assert shown.returncode == 0 and "finished (completed)" in shown.stdout
    replay = cli(tmp_path, "--open", str(run), "--jsonl", "-")
    assert replay.stdout == (run / "events.jsonl").read_text() and "finished (completed)" in replay.stderr


def test_jsonl_to_stdout_parses_line_by_line(tmp_path):
    done = cli(tmp_path, "--headless", "--jsonl", "-", "--runs-dir", "elsewhere", *TINY)
    assert done.returncode == 0, done.stderr
    events = [from_json(line) for line in done.stdout.splitlines()]
    assert type(events[0]).__name__ == "RunStarted" and type(events[-1]).__name__ == "RunFinished"
    assert "finished (completed)" in done.stderr  # the human lines moved to stderr
    recorded = read_jsonl(only_run(tmp_path / "elsewhere") / "events.jsonl")
    assert [type(e) for e in recorded] == [type(e) for e in events]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--lr", "abc", "--epochs", "0", "--activation", "nope"],
         ["--lr: 'abc' is not a number", "--epochs: 0 must be", "--activation: 'nope' is not one of"]),
        (["--no-such-flag"], ["unrecognized arguments: --no-such-flag"]),
        (["--watch", "L7.N0.w0"], ["--watch L7.N0.w0: layer 7 does not exist: this network has layers L0..L2"]),
        (["--backend", "scalar", "--devices", "2"], ["--devices: the handmade engine runs on one CPU core; "
                                                     "multi-device training needs the lightning backend"]),
        (["--config", "missing.toml"], ["missing.toml: cannot read it"]),
        (["--resume", "."], ["--resume:", "not a run directory"]),
        (["--open", "nowhere"], ["--open:", "no such run directory"]),
    ],
)
def test_bad_flags_exit_2_with_clear_lines(tmp_path, args, needles):
    done = cli(tmp_path, "--headless", *args)
    assert done.returncode == 2
    for needle in needles:
        assert needle in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "runs").exists()


def readme_flags() -> dict[str, str]:
    """First cell of each row of the README's flag table: flag -> the cell's text."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| Flag | Meaning | Default |", 1)[1].split("\n\n", 1)[0]
    out = {}
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1]
        for flag in re.findall(r"`(--[a-z-]+)", cell):
            out[flag] = cell.strip()
    return out


def test_flags_help_and_readme_come_from_fields():
    table = readme_flags()
    parser = build_parser()
    help_text = parser.format_help()
    known = set(parser._option_string_actions)
    for name, info in FIELDS.items():
        assert info.flag in table, f"README flag table lacks {info.flag} (TrainConfig.{name})"
        assert info.flag in help_text and " ".join(info.help.split()[:3]) in " ".join(help_text.split())
        if info.widget == "bool":
            assert f"--no-{info.flag[2:]}" in table and f"--no-{info.flag[2:]}" in known
        else:
            assert table[info.flag].startswith(f"`{info.flag} {info.metavar}`")
    assert set(table) <= known, f"README names flags the parser lacks: {set(table) - known}"


def run_main(capsys, *args: str) -> tuple[int, str]:
    """main() in this process (only for input it refuses before any run starts): status and stderr."""
    try:
        status = main(["--headless", *args])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err
    return status, out.err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--watch", " loss"], "--watch: ' loss' contains whitespace; an address has none"),
        (["--watch", "loss\n"], "--watch: 'loss\\n' contains whitespace; an address has none"),
        (["--watch", "L0.N" + "9" * 5000 + ".b"], "the neuron after 'N' has 5000 digits; at most 9 are allowed"),
        (["--backend", "lightning", "--watch", "loss"], "--watch loss: loss is a graph node (z, a, loss): only the "
                                                        "handmade engine has them"),
        (["--hidden", ""], "--hidden: is empty; give layer sizes such as 64,32, or none for a linear classifier"),
        (["--data-dir", ""], "--data-dir: empty; name a path, or leave the flag out"),
        (["--config", ""], "--config: empty; name a path"),
        (["--lr", "9" * 400], "--lr: '999999999999999999999999999999999999999... (402 characters) is not a finite"),
        (["--epochs", "9" * 5000], "--epochs: '999999999999999999999999999999999999999... (5002 characters) is not"),
        (["--threads", "-1", "--cuda-graphs"], "--threads: -1 must be between 0 and 1024 (0 = auto)"),
        (["--lr-drop-epochs", "4,6", "--epochs", "5"], "--lr-drop-epochs: 4,6: each epoch must be between 2 and "
                                                       "the last epoch (5)"),
        (["--lr-drop-epochs", "5;6"], "--lr-drop-epochs: '5;6' must be comma-separated epoch numbers such as 4,6"),
    ],
)
def test_bad_values_are_one_clear_line_exit_2(capsys, args, line):
    status, err = run_main(capsys, *args)
    assert status == 2 and line in err
    assert len(err.splitlines()) == 2 and len(err) < 400  # the problem and the pointer to --help


def test_config_file_problems_name_the_file_and_its_keys(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"batch_size": 0, "lr": 1' + "0" * 400 + "}")
    status, err = run_main(capsys, "--config", str(path), "--epochs", "0")
    assert status == 2
    assert err.splitlines() == [
        f"mnist-dash: config file {path}: lr: 1000000000000000000000000000000000000000... (401 characters) is too "
        "large a number",
        f"mnist-dash: config file {path}: batch_size: 0 must be between 1 and 65536",
        "mnist-dash: --epochs: 0 must be between 1 and 10000",
        "mnist-dash: see mnist-dash --help",
    ]
    path.write_text('{"devices": 2}')
    status, more = run_main(capsys, "--config", str(path))
    assert status == 2 and more.splitlines()[0] == (
        f"mnist-dash: config file {path}: devices: the handmade engine runs on one CPU core; multi-device training "
        "needs the lightning backend")
    err += more
    assert "--batch-size" not in err and "--devices" not in err


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("bin.json", b"\xff\xfe\x00{", "not UTF-8 text (byte 0xff at offset 0)"),
        ("bin.toml", b"lr = 0.1\n\x80", "not UTF-8 text (byte 0x80 at offset 9)"),
        ("deep.json", b"[" * 100_000, "nested too deeply to be a settings file"),
        ("deep.toml", b"a = " + b"[" * 100_000, "nested too deeply to be a settings file"),
        ("huge.json", b'{"lr": 1' + b"0" * 5000 + b"}", "not valid JSON (a number has more than 4300 digits)"),
    ],
)
def test_hostile_config_files_exit_2(tmp_path, capsys, name, data, needle):
    (tmp_path / name).write_bytes(data)
    status, err = run_main(capsys, "--config", str(tmp_path / name))
    assert status == 2 and f"--config {tmp_path / name}: {needle}" in err


def test_save_config_toml_round_trips_control_characters(tmp_path):
    odd = TrainConfig(strategy='dd"p\n\x01\\', threads=2, cuda_graphs=True)
    save_config(odd, tmp_path / "odd.toml")
    assert TrainConfig.from_dict(read_settings(tmp_path / "odd.toml")) == odd


def test_flags_override_a_config_file_both_ways(tmp_path, capsys):
    (tmp_path / "on.toml").write_text("[train]\ncuda_graphs = true\nthreads = 3\n")
    assert main(["--config", str(tmp_path / "on.toml"), "--no-cuda-graphs", "--save-config",
                 str(tmp_path / "off.json")]) == 0
    saved = json.loads((tmp_path / "off.json").read_text())
    assert (saved["cuda_graphs"], saved["threads"]) == (False, 3)
    capsys.readouterr()


def test_save_config_writes_through_symlinks_and_refuses_special_files(tmp_path, capsys):
    target = tmp_path / "real.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    assert main(["--lr", "0.2", "--save-config", str(tmp_path / "link.json")]) == 0
    assert (tmp_path / "link.json").is_symlink() and json.loads(target.read_text())["lr"] == 0.2
    capsys.readouterr()
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    status, err = run_main(capsys, "--save-config", str(fifo))
    assert status == 2 and f"--save-config {fifo}: it is a FIFO, not a regular file; refusing to replace it" in err
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "pipe.json", "real.json"]
    (tmp_path / "dir.toml").mkdir()
    assert "it is a directory" in run_main(capsys, "--save-config", str(tmp_path / "dir.toml"))[1]
    assert refusal(Path("/dev/null")) == "it is a device, not a regular file; refusing to replace it"  # only looked at


INTERRUPT_AT = """
import builtins, runpy, sys
real, interrupt = builtins.__import__, sys.argv[1]
def hooked(name, *args, **kwargs):
    if name == interrupt:
        raise KeyboardInterrupt
    return real(name, *args, **kwargs)
builtins.__import__ = hooked
target = sys.argv[2]
sys.argv = ["mnist-dash", *sys.argv[3:]]
runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(("module", "entry"), [("core.cli", "core"), ("core.headless", "core"),
                                                ("core.session", "core.cli")])
def test_ctrl_c_while_modules_import_exits_130_quietly(tmp_path, module, entry):
    done = subprocess.run([sys.executable, "-c", INTERRUPT_AT, module, entry, "--headless", *TINY], cwd=tmp_path,
                          env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr, done.stdout) == (130, "mnist-dash: interrupted\n", "")


def test_failed_run_exits_1_with_a_clear_message(tmp_path):
    done = cli(tmp_path, "--headless", "--data-dir", "no-such-dir", *TINY)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
    assert "failed: " in done.stdout and "no-such-dir" in done.stdout
    run = only_run(tmp_path / "runs")
    assert json.loads((run / "summary.json").read_text())["reason"] == "failed"
    assert f"record: runs/{run.name}" in done.stdout


def test_python_dash_m_core_is_the_cli(tmp_path):
    done = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=tmp_path, env=cli_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--batch-size N" in done.stdout and "(default: 8)" in done.stdout


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("bad.json", "{oops", "not valid JSON"),
        ("bad.toml", "epochs = = 3", "not valid TOML"),
        ("unknown.toml", "[train]\nepochz = 3\n", "epochz: unknown setting"),
        ("value.json", '{"lr": -1, "hidden": "a,b"}', "hidden:"),
    ],
)
def test_bad_config_files_exit_2(tmp_path, name, text, needle):
    (tmp_path / name).write_text(text)
    done = cli(tmp_path, "--headless", "--config", name)
    assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr


def test_config_file_then_flags_then_save(tmp_path):
    (tmp_path / "base.toml").write_text('[train]\nepochs = 2\nlr = 0.1\nhidden = [16]\n')
    done = cli(tmp_path, "--config", "base.toml", "--lr", "0.2", "--save-config", "out.toml")
    assert done.returncode == 0, done.stderr
    again = cli(tmp_path, "--config", "out.toml", "--save-config", "out.json")
    saved = json.loads((tmp_path / "out.json").read_text())
    assert again.returncode == 0 and (saved["epochs"], saved["lr"], saved["hidden"]) == (2, 0.2, [16])


def watch_moves(events: list, lr: float, exact: bool) -> int:
    """Check data[k+1] == data[k] - lr*grad[k] for every watched parameter; return the moves checked.

    The handmade engine computes in Python floats, so the move is bit-exact; Lightning's are float32 tensors.
    """
    by_address: dict[str, list] = {}
    for e in events:
        if type(e).__name__ == "ScalarWatch":
            by_address.setdefault(e.address, []).append(e)
    checked = 0
    for seq in by_address.values():
        assert [e.step for e in seq] == list(range(1, len(seq) + 1))
        for a, b in zip(seq, seq[1:], strict=False):
            expected = a.data - lr * a.grad
            assert b.data == (expected if exact else pytest.approx(expected, rel=1e-6, abs=1e-9))
            checked += a.grad != 0
    return checked


@pytest.mark.parametrize("backend", ["scalar", "lightning"])
def test_watch_moves_by_exactly_minus_lr_grad(tmp_path, backend):
    watch = ["--watch", "L0.N0.w20", "--watch", "L0.N3.b", "--watch", "L2.N1.w5"]
    done = cli(tmp_path, "--headless", "--backend", backend, "--device", "cpu", "--optimizer", "sgd",
               "--batch-size", "1", "--lr", "0.05", "--jsonl", "copy.jsonl", *watch, *TINY)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = only_run(tmp_path / "runs") / "events.jsonl"
    assert (tmp_path / "copy.jsonl").read_text() == recorded.read_text()
    events = read_jsonl(recorded)
    addresses = {e.address for e in events if type(e).__name__ == "ScalarWatch"}
    assert addresses == {"L0.N0.w20", "L0.N3.b", "L2.N1.w5"}
    assert watch_moves(events, 0.05, exact=backend == "scalar") > 0


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    err = open(tmp_path / "stderr.txt", "w")
    return subprocess.Popen([sys.executable, "-m", "core.cli", "--headless", "--jsonl", "-", *args], cwd=tmp_path,
                            env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=err, text=True)


@pytest.mark.parametrize(
    ("backend", "signum"),
    [("scalar", signal.SIGINT), ("scalar", signal.SIGTERM), ("lightning", signal.SIGTERM)],
)
def test_signal_stops_cleanly_and_resume_continues(tmp_path, backend, signum):
    args = ["--backend", backend, "--device", "cpu", "--train-subset", "512", "--val-subset", "32",
            "--test-subset", "32", "--input-size", "7", "--epochs", "200"]
    proc = _start(tmp_path, *args)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if '"StepEnded"' in line:
            proc.send_signal(signum)
            break
    rest, _ = proc.communicate(timeout=120)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 128 + signum, stderr
    assert f"{signal.Signals(signum).name}: stopping after the current step" in stderr
    assert "Traceback" not in stderr
    streamed = [from_json(line) for line in [*lines, *rest.splitlines()]]
    run = only_run(tmp_path / "runs")
    summary = check_record(run, "stopped")
    assert type(streamed[-1]).__name__ == "RunFinished" and streamed[-1].reason == "stopped"
    stopped_at = summary["steps"]
    assert 0 < stopped_at < 200 * 64
    refused = cli(tmp_path, "--headless", "--resume", str(run), "--hidden", "8", "--input-size", "14")
    assert refused.returncode == 2 and "--hidden: a resumed run keeps its hidden (64,32), got 8" in refused.stderr
    assert "--input-size: a resumed run keeps its input_size (7), got 14" in refused.stderr

    done = cli(tmp_path, "--headless", "--resume", str(run), "--epochs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    summary = check_record(run, "completed")
    events = read_jsonl(run / "events.jsonl")
    starts = [e for e in events if type(e).__name__ == "RunStarted"]
    assert len(starts) == 2 and starts[1].resumed_from_step == stopped_at
    assert summary["test_accuracy"] is not None and summary["steps"] >= stopped_at
    assert json.loads((run / "config.json").read_text())["epochs"] == 1


def test_second_ctrl_c_exits_at_once(tmp_path):
    proc = _start(tmp_path, "--train-subset", "512", "--input-size", "7", "--epochs", "200", "--val-subset", "32")
    for line in proc.stdout:
        if '"StepEnded"' in line:
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=60)
    assert proc.returncode == 130


def test_ddp_two_processes_print_from_rank_zero_only(tmp_path):
    done = cli(tmp_path, "--headless", "--backend", "lightning", "--device", "cpu", "--devices", "2",
               "--strategy", "ddp", *TINY, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("backend lightning") == 1 and out.count("finished (completed)") == 1
    run = only_run(tmp_path / "runs")  # the second process wrote no record of its own
    check_record(run, "completed")


def test_ddp_ctrl_c_to_the_process_group_stops_cleanly(tmp_path):
    """A terminal's Ctrl+C reaches every rank; rank zero alone decides, so the record ends "stopped"."""
    err = open(tmp_path / "stderr.txt", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "--headless", "--jsonl", "-", "--backend", "lightning", "--device", "cpu",
         "--devices", "2", "--strategy", "ddp", "--train-subset", "2048", "--val-subset", "32", "--test-subset", "32",
         "--input-size", "7", "--epochs", "50"],
        cwd=tmp_path, env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if '"StepEnded"' in line:
                os.killpg(proc.pid, signal.SIGINT)
                break
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 130, stderr
    assert stderr.count("SIGINT: stopping") == 1 and stderr.count("finished (stopped)") == 1
    check_record(only_run(tmp_path / "runs"), "stopped")


def _sample_as_directory(path: Path) -> Path:
    """The embedded sample's four IDX files copied into a directory of their own: a small --data-dir."""
    path.mkdir()
    for source in (ROOT / "core" / "sample").glob("*.gz"):
        (path / source.name).write_bytes(source.read_bytes())
    return path


def test_resume_trains_on_the_data_its_folder_recorded(tmp_path):
    data = _sample_as_directory(tmp_path / "my data")
    first = cli(tmp_path, "--headless", "--data-dir", str(data), *TINY)
    assert first.returncode == 0, first.stderr
    run = only_run(tmp_path / "runs")
    recorded = json.loads((run / "data.json").read_text())
    assert recorded["kind"] == "directory" and recorded["dir"] == str(data)
    assert sorted(f["name"] for f in recorded["files"]) == sorted(p.name for p in data.iterdir())
    # $MNIST_DASH_DATA (the shared MNIST, in cli_env) would win the search: the record must win instead
    again = cli(tmp_path, "--headless", "--resume", str(run), "--epochs", "2")
    assert again.returncode == 0, again.stderr
    starts = [e for e in read_jsonl(run / "events.jsonl") if type(e).__name__ == "RunStarted"]
    assert [s.data_source for s in starts] == [str(data), str(data)]

    data.rename(tmp_path / "moved")
    gone = cli(tmp_path, "--headless", "--resume", str(run), "--epochs", "3")
    assert gone.returncode == 2 and gone.stdout == ""
    assert gone.stderr.splitlines()[0] == (
        f"mnist-dash: --resume {run}: the run's data is gone ({data} is gone, as data.json recorded); "
        "name where it is now with --data-dir DIR")
    moved = cli(tmp_path, "--headless", "--resume", str(run), "--epochs", "3", "--data-dir", str(tmp_path / "moved"))
    assert moved.returncode == 0, moved.stderr  # --data-dir overrides, and the folder now says where it is
    assert json.loads((run / "data.json").read_text())["dir"] == str(tmp_path / "moved")


def test_every_bad_resume_folder_exits_2(tmp_path):
    from core.records.runs import RunRecorder

    with RunRecorder(tmp_path / "runs", "killed", TrainConfig(epochs=1)):
        pass  # a run killed before its first checkpoint: config and events, no checkpoint
    killed = cli(tmp_path, "--headless", "--resume", str(tmp_path / "runs" / "killed"))
    assert killed.returncode == 2
    assert "no scalar checkpoint in it to resume from" in killed.stderr
    missing = cli(tmp_path, "--headless", "--resume", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.startswith("mnist-dash: --resume: ")


def test_a_resume_of_the_sample_takes_the_sample_whatever_the_search_finds(tmp_path, monkeypatch):
    from core.data import load_data
    from core.datasource import describe, for_resume, record

    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(train_subset=32, val_subset=8, test_subset=8, input_size=7)
    monkeypatch.delenv("MNIST_DASH_DATA", raising=False)
    sample = load_data(config, _sample_as_directory(tmp_path / "d"))
    record(run, type(sample)(**{**sample.__dict__, "is_sample": True}))
    assert json.loads((run / "data.json").read_text())["kind"] == "sample"
    data_dir, data, problem = for_resume(run, None, config)
    assert data_dir is None and problem is None and data.is_sample and len(data.train) == 32
    assert for_resume(run, "elsewhere", config) == ("elsewhere", None, None)  # --data-dir overrides
    assert describe(sample)["kind"] == "directory"
