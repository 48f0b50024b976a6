"""Sweeps without processes: the space parser, the study's queue, rows, best-so-far, the reproducing command."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.config import TrainConfig
from core.sweeps.space import Space, SpaceError, config_for, parse_param, parse_params
from core.sweeps.study import (
    SPEC_ATTR,
    SweepSpec,
    claim,
    create_or_join,
    describe,
    fail_and_retry,
    make_pruner,
    open_storage,
    startup_trials,
)
from core.sweeps.view import best_curve, best_row, jsonl_lines, reproduce, table_lines, trial_rows


def test_spaces_parse_to_exact_ranges_and_choices():
    assert parse_param("lr=log(1e-3,0.5)") == Space("lr", "log", 0.001, 0.5)
    assert parse_param("momentum=uniform(0,0.99)") == Space("momentum", "uniform", 0.0, 0.99)
    assert parse_param("batch_size=int(2,64)") == Space("batch_size", "int", 2, 64)
    assert parse_param("batch-size=log(2,64)") == Space("batch_size", "log", 2, 64)  # ints on a log scale
    assert parse_param("hidden=[16,64,128]").choices == ("16", "64", "128")
    assert parse_param('hidden=["64,32",none]').choices == ("64,32", "none")  # quoted: several layers
    assert parse_param("activation=[relu,tanh]").choices == ("relu", "tanh")
    assert parse_param("lr=[0.1,1e-6]").choices == (0.1, 1e-6)
    assert parse_param("cuda_graphs=[true,false]").choices == (True, False)
    assert parse_param("lr=log(1e-3,0.5)").text() == "lr=log(0.001,0.5)"
    assert parse_param('hidden=["64,32",16]').text() == 'hidden=["64,32",16]'


@pytest.mark.parametrize(("text", "line"), [
    ("nope=[1,2]", "--param nope=[1,2]: no setting called 'nope' (known: backend,"),
    ("lr", "--param lr: write FIELD=SPACE"),
    ("lr=log(0,1)", "--param lr=log(0,1): a log range must start above 0"),
    ("lr=uniform(0.5,0.1)", "--param lr=uniform(0.5,0.1): the low end must be below the high end"),
    ("lr=log(1e-3,20)", "--param lr=log(1e-3,20): 20.0 must be > 0 and <= 10.0"),  # the field refuses 20
    ("lr=[0.1,0]", "--param lr=[0.1,0]: 0.0 must be > 0 and <= 10.0"),
    ("hidden=[0,5]", "--param hidden=[0,5]: 0: each layer size must be 1..4096"),
    ("optimizer=[sgd,bogus]", "--param optimizer=[sgd,bogus]: 'bogus' is not one of sgd, momentum, adam"),
    ("epochs=[1,2.5]", "--param epochs=[1,2.5]: '2.5' is not a whole number"),
    ("batch_size=uniform(1,8)", "--param batch_size=uniform(1,8): batch_size is a whole number; use int(a,b)"),
    ("activation=log(1,2)", "--param activation=log(1,2): activation is not a number range; use a list"),
    ("input_size=int(7,28)", "--param input_size=int(7,28): input_size is not a whole-number setting"),
    ("batch_size=int(1,2.5)", "--param batch_size=int(1,2.5): '2.5' is not a whole number"),
    ("lr=[0.1,0.1]", "--param lr=[0.1,0.1]: a choice is listed twice"),
    ("lr=sometimes", "--param lr=sometimes: the space must be log(a,b), uniform(a,b), int(a,b) or [v1,v2,...]"),
])
def test_bad_spaces_are_one_line_naming_the_flag(text, line):
    with pytest.raises(SpaceError) as caught:
        parse_param(text)
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value)


def test_a_value_is_checked_with_the_other_settings_and_a_field_only_once():
    base = TrainConfig(epochs=3)
    assert str(pytest.raises(SpaceError, parse_param, "lr_drop_epochs=[2,5]", base).value) == \
        "--param lr_drop_epochs=[2,5]: 5: each epoch must be between 2 and the last epoch (3)"
    spaces, problems = parse_params(["lr=log(0.01,0.1)", "lr=[0.1]", "hidden=[0]"])
    assert [s.field for s in spaces] == ["lr"]
    assert problems == ["--param lr=[0.1]: lr is already searched; give each setting once",
                        "--param hidden=[0]: 0: each layer size must be 1..4096"]
    assert config_for(TrainConfig(), {"hidden": "64,32", "lr": 0.2}).hidden == (64, 32)
    assert config_for(TrainConfig(), {"hidden": 24}).hidden == (24,)  # int(a,b) on hidden: one layer


def test_bad_param_is_one_line_and_exit_2_before_anything_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["--sweep", "s", "--param", "lr=log(0,1)", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["mnist-dash: --param lr=log(0,1): a log range must start above 0",
                   "mnist-dash: see mnist-dash --help"]
    assert not runs.exists()
    assert main(["--trials", "3", "--runs-dir", str(runs)]) == 2
    assert capsys.readouterr().err.splitlines()[0] == "mnist-dash: --trials need --sweep NAME"
    assert main(["--sweep", "../up", "--param", "lr=[0.1]", "--runs-dir", str(runs)]) == 2
    assert "--sweep: '../up' must be 1-64 letters" in capsys.readouterr().err
    assert not runs.exists()


def test_dry_run_describes_and_runs_nothing(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["--sweep", "s", "--param", "lr=log(1e-3,0.5)", "--trials", "9", "--prune", "asha", "--seed", "3",
                 "--hidden", "16", "--runs-dir", str(runs), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "sweep s: 9 trials, objective val_accuracy (best validation accuracy, maximized)",
        "  param lr=log(0.001,0.5)",
        "  sampler: TPESampler (seed 3 + trial number)",
        "  pruner: SuccessiveHalvingPruner (asynchronous successive halving, per epoch)",
        f"  storage: journal file {runs}/sweeps/s/study.journal",
        "  base: hidden=16 seed=3",
    ]
    assert not runs.exists()  # no folder, no journal, no run


def test_pruners_and_startup():
    spec = SweepSpec(name="s", spaces=(), trials=6)
    assert type(make_pruner(spec)).__name__ == "MedianPruner" and startup_trials(6) == 2
    assert (startup_trials(1), startup_trials(30)) == (1, 5)
    assert type(make_pruner(SweepSpec(name="s", spaces=(), prune="asha"))).__name__ == "SuccessiveHalvingPruner"
    assert type(make_pruner(SweepSpec(name="s", spaces=(), prune="none"))).__name__ == "NopPruner"
    assert describe(spec, "sqlite:///x.db")[-2] == "  storage: sqlite:///x.db"


def _study(tmp_path, trials=3, name="s"):
    spec = SweepSpec(name=name, spaces=(parse_param("lr=[0.1,0.2]"),), base=TrainConfig(hidden=(16,)), trials=trials)
    storage = open_storage(f"journal:{tmp_path / 'j.journal'}")
    study, joined, created = create_or_join(spec, storage)
    return spec, storage, study, joined, created


def test_a_study_queues_its_trials_and_each_is_taken_once(tmp_path):
    spec, storage, study, joined, created = _study(tmp_path)
    assert created and joined == spec and study.user_attrs[SPEC_ATTR] == spec.to_dict()
    again_study, again, created_again = create_or_join(SweepSpec(name="s", spaces=(), trials=99), storage)
    assert not created_again and again == spec  # the joiner runs the creator's sweep, not its own
    taken = [claim(storage, "s") for _ in range(4)]
    assert [storage.get_trial_number_from_id(t) for t in taken[:3]] == [0, 1, 2] and taken[3] is None
    assert [r.state for r in trial_rows(study)] == ["running"] * 3
    assert fail_and_retry(study, storage, 1, "its process exited with status -9")
    assert not fail_and_retry(study, storage, 1, "twice")  # already failed
    rows = trial_rows(study)
    assert [(r.number, r.state, r.retry_of) for r in rows] == [(0, "running", None), (1, "failed", None),
                                                               (2, "running", None), (3, "waiting", 1)]
    assert rows[1].error == "its process exited with status -9"
    retry = claim(storage, "s")
    assert storage.get_trial_number_from_id(retry) == 3
    assert fail_and_retry(study, storage, 3, "again")
    assert claim(storage, "s") is None  # retried once, not twice


def test_rows_best_so_far_curve_and_the_reproducing_command(tmp_path):
    import optuna

    spec, storage, study, _, _ = _study(tmp_path, trials=3)
    values = [0.5, 0.75, 0.25]
    for number, value in enumerate(values):
        trial = optuna.trial.Trial(study, claim(storage, "s"))
        trial.suggest_categorical("lr", [0.1, 0.2])
        trial.report(value, 1)
        if number == 2:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # its value: the last one reported
        else:
            study.tell(trial, value)
    rows = trial_rows(study, "maximize")
    assert [(r.state, r.value, r.best, r.pruned_at, r.epoch) for r in rows] == [
        ("complete", 0.5, 0.5, None, 1), ("complete", 0.75, 0.75, None, 1), ("pruned", 0.25, 0.75, 1, 1)]
    assert best_curve(rows) == [(1, 0.5), (2, 0.75), (3, 0.75)]
    best = best_row(rows, "maximize")
    assert best.number == 1
    assert best_row(rows, "minimize").number == 0  # pruned trials are never the answer
    command = reproduce(spec, {"lr": 0.2})
    assert command == "mnist-dash --headless --hidden 16 --lr 0.2"
    assert reproduce(spec, {"lr": 0.1, "hidden": "64,32", "cuda_graphs": True}) == \
        "mnist-dash --headless --lr 0.1 --cuda-graphs"  # 64,32 is the default: not spelled
    lines = table_lines(rows, ["lr"])
    assert lines[0].split() == ["trial", "state", "lr", "value", "epoch", "best", "pruned", "at", "run"]
    assert lines[3].split()[:7] == ["2", "pruned", str(rows[2].params["lr"]), "0.25", "1", "0.75", "1"]
    records = [json.loads(line) for line in jsonl_lines(rows, spec, best)]
    assert [r["type"] for r in records] == ["SweepTrial"] * 3 + ["SweepSummary"]
    assert records[-1]["best_trial"] == 1 and records[-1]["best_value"] == 0.75
    assert records[-1]["command"] == reproduce(spec, rows[1].params)


def test_open_sweep_goes_to_the_front_end_in_a_terminal(tmp_path, monkeypatch):
    from core.sweeps import cli as sweep_cli
    from core.sweeps.study import sweep_dir, write_sweep_file

    runs = tmp_path / "runs"
    folder = sweep_dir(runs, "s")
    spec, storage, study, _, _ = _study(tmp_path)
    write_sweep_file(folder, "s", f"journal:{tmp_path / 'j.journal'}", runs)
    opened = []

    class FrontEnd:
        def open_sweep(self, where, args):
            opened.append(where)
            return 0

    monkeypatch.setattr(sweep_cli, "_terminal", lambda: True)
    monkeypatch.delenv("TERM", raising=False)
    assert main(["--open-sweep", "s", "--runs-dir", str(runs)], front_end=FrontEnd()) == 0
    assert main(["--open", str(folder)], front_end=FrontEnd()) == 0
    assert opened == [folder, folder]


class FakeTrial:
    """What TrialHook asks of an optuna Trial."""

    def __init__(self, prune_at: int | None) -> None:
        self.number, self.params, self.reports, self.prune_at = 3, {"lr": 0.1}, [], prune_at

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.reports[-1][0] == self.prune_at


def _epoch(epoch, acc, loss):
    from core.events import EpochEnded

    return EpochEnded(run_id="r", epoch=epoch, step=epoch, train_loss=1.0, train_accuracy=0.5, val_loss=loss,
                      val_accuracy=acc, epoch_seconds=1.0)


def test_the_trial_hook_reports_the_best_so_far_marks_the_record_and_prunes_with_its_reason():
    from core.backends import RunControl
    from core.events import LogLine, RunStarted
    from core.sweeps.worker import TrialHook

    seen = []
    trial, control = FakeTrial(prune_at=2), RunControl()
    hook = TrialHook(trial, SweepSpec(name="s", spaces=()), control, "median")
    hook(RunStarted(run_id="r", backend="scalar", device="cpu", data_source="t", config={}, train_size=1,
                    val_size=1, test_size=1), seen.append)
    for epoch, acc in ((1, 0.5), (2, 0.25), (3, 0.75)):
        hook(_epoch(epoch, acc, 1.0), seen.append)
    assert trial.reports == [(1, 0.5), (2, 0.5), (3, 0.75)]  # the best so far: a pruned trial's value is its best
    lines = [e.message for e in seen if isinstance(e, LogLine)]
    assert lines == ["sweep s trial 3: lr=0.1", "pruned at epoch 2 by the median pruner (val_accuracy 0.5)"]
    assert hook.pruned_at == 2 and control.stop_requested and control.stop_reason == "pruned"
    done = TrialHook(FakeTrial(prune_at=2), SweepSpec(name="s", spaces=()), RunControl(), "median", last_epoch=2)
    for epoch in (1, 2):
        done(_epoch(epoch, 0.5, 1.0), lambda e: None)
    assert done.pruned_at is None and not done.control.stop_requested  # the last epoch is paid for: it completes
    low = TrialHook(FakeTrial(None), SweepSpec(name="s", spaces=(), objective="val_loss"), RunControl(), "asha")
    for epoch, loss in ((1, 2.0), (2, 1.5), (3, 1.75), (4, float("nan"))):
        low(_epoch(epoch, 0.1, loss), lambda e: None)
    assert low.trial.reports == [(1, 2.0), (2, 1.5), (3, 1.5)] and low.best == 1.5  # minimised; NaN not reported
