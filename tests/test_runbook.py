"""The shared run book: the patience rule on scripted validation losses, Position checks, final events, grad stats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.backends import Command, RunControl, RunSummary
from core.backends.gradstats import HISTOGRAM_EDGES, dead_fraction, histogram, layer_grad_stats
from core.backends.runbook import Position, RunBook, final_event, run_failed, scheduled_rate
from core.config import MAX_LR, TrainConfig
from core.events import ControlApplied, RunFailed, RunFinished

NAN, INF = math.nan, math.inf


def script(losses, *, epochs=None, patience=0):
    """Feed validation losses through a book; (reason or None after each epoch, the book)."""
    cfg = TrainConfig(epochs=epochs or len(losses), patience=patience)
    book = RunBook(cfg, "r", total_steps=10)
    out = []
    for epoch, loss in enumerate(losses, start=1):
        reason = book.end_epoch(epoch, loss)
        out.append(reason)
        if reason is not None:
            break
    return out, book


@pytest.mark.parametrize(("losses", "epochs", "patience", "expected", "best", "bad"), [
    ([1.0, 0.9, 0.8], 3, 0, [None, None, "completed"], 0.8, 0),
    ([1.0, 1.1, 1.2], 3, 0, [None, None, "completed"], 1.0, 2),  # patience off: rising loss still completes
    ([1.0, 1.1, 1.2, 0.5], 4, 2, [None, None, "early_stopped"], 1.0, 2),
    ([1.0, 1.1, 1.2], 3, 2, [None, None, "completed"], 1.0, 2),  # patience runs out on the last epoch
    ([1.0, 1.0], 2, 1, [None, "completed"], 1.0, 1),  # equal is not better; last epoch
    ([1.0, 1.0, 0.1], 3, 1, [None, "early_stopped"], 1.0, 1),  # equal is not better
    ([1.0, 1.2, 0.9, 1.0, 1.1], 5, 2, [None, None, None, None, "completed"], 0.9, 2),  # bad count resets
    ([1.0, NAN, 0.5], 3, 5, [None, "diverged"], 1.0, 0),
    ([INF], 1, 0, ["diverged"], None, 0),
    ([1.0, -INF], 2, 0, [None, "diverged"], 1.0, 0),
])
def test_patience_rule(losses, epochs, patience, expected, best, bad):
    reasons, book = script(losses, epochs=epochs, patience=patience)
    assert reasons == expected
    assert book.position.best_val_loss == best
    assert book.position.bad_epochs == bad
    assert book.position.epoch == len(expected)
    assert book.reason == expected[-1]


def test_no_validation_split_judges_nothing():
    reasons, book = script([None, None], patience=1)
    assert reasons == [None, "completed"]
    assert book.position.best_val_loss is None and book.position.bad_epochs == 0


def test_messages_name_the_numbers():
    _, book = script([1.0, 1.5, 2.0, 0.1], epochs=4, patience=2)
    assert book.message == "the validation loss did not improve for 2 epochs (patience 2)"
    _, book = script([1.0, NAN], epochs=3)
    assert book.message == "the validation loss became nan after epoch 2; lower the learning rate"
    book = RunBook(TrainConfig(init="uniform"), "r", total_steps=4)
    assert book.check_train_loss(2.5) is None
    book.record_step(8, 8.0, 3)
    assert book.check_train_loss(INF) == "diverged"
    assert book.message == ("the training loss became inf after 1 steps; lower the learning rate "
                            "or use scaled initialisation")
    assert book.stop() == "diverged"  # the first ending wins


def test_steps_epoch_sums_and_progress():
    book = RunBook(TrainConfig(epochs=2), "r", total_steps=4)
    book.start_epoch()
    book.record_step(8, 4.0, 6)
    book.record_step(2, 3.0, 1)  # a short last batch: weighted by its 2 samples
    p = book.position
    assert (p.step, p.samples_seen, p.batch_in_epoch, p.epoch_count) == (2, 10, 2, 10)
    assert book.train_loss == 0.7 and book.train_accuracy == 0.7
    assert book.progress == 0.5
    assert book.end_epoch(1, 0.3) is None
    assert (p.batch_in_epoch, p.epoch_loss_sum, p.epoch_correct, p.epoch_count) == (0, 0.0, 0, 0)
    assert math.isnan(book.train_loss)


def test_resumed_mid_epoch_keeps_its_sums():
    pos = Position(epoch=1, step=5, samples_seen=40, batch_in_epoch=2, epoch_loss_sum=3.0, epoch_correct=9,
                   epoch_count=16, best_val_loss=0.5, bad_epochs=0)
    book = RunBook(TrainConfig(epochs=2), "r", total_steps=8, position=pos)
    book.start_epoch()
    assert (pos.epoch_loss_sum, pos.epoch_correct, pos.epoch_count) == (3.0, 9, 16)


def test_finished_and_summary_agree():
    book = RunBook(TrainConfig(epochs=1), "r", total_steps=3)
    for _ in range(3):
        book.record_step(4, 1.0, 2)
    book.end_epoch(1, 0.25)
    event, summary = book.finished(seconds=2.0, test_loss=0.5, test_accuracy=0.75)
    assert isinstance(event, RunFinished) and isinstance(summary, RunSummary)
    assert (event.reason, event.steps, event.epochs_completed, event.best_val_loss) == ("completed", 3, 1, 0.25)
    assert summary.to_dict() == {k: getattr(event, k) for k in summary.to_dict()}
    assert final_event(summary).reason == "completed"
    with pytest.raises(ValueError, match="unknown run end"):
        book.finished("failed")


def test_one_run_failed_format():
    try:
        raise ValueError("no such thing\nsecond line")
    except ValueError as exc:
        event, summary = run_failed("r", exc, steps=3)
    assert isinstance(event, RunFailed)
    assert event.error == "no such thing" and event.error_type == "ValueError"
    assert "Traceback" in event.traceback
    assert (summary.reason, summary.steps, summary.message) == ("failed", 3, event.error)
    event, summary = RunBook(TrainConfig(), "r", total_steps=1).failed("  \n the data is gone\n", kind="DataError")
    assert (event.error, event.error_type, event.traceback) == ("the data is gone", "DataError", "")
    assert isinstance(final_event(summary), RunFailed)


# ---- Position -------------------------------------------------------------------------------------------


def test_position_round_trips_with_the_contract_names():
    pos = Position(epoch=1, step=7, samples_seen=50, batch_in_epoch=3, epoch_loss_sum=2.5, epoch_correct=10,
                   epoch_count=24, best_val_loss=0.4, bad_epochs=1)
    d = pos.to_dict()
    assert list(d) == ["epoch", "step", "samples_seen", "batch_in_epoch", "epoch_loss_sum", "epoch_correct",
                       "epoch_count", "best_val_loss", "bad_epochs", "lr", "lr_epoch"]
    assert Position.from_dict(d, TrainConfig(epochs=3)) == pos
    assert Position.from_dict(Position().to_dict(), TrainConfig()) == Position()
    anchored = Position(epoch=1, step=7, samples_seen=50, lr=0.01, lr_epoch=2)
    assert Position.from_dict(anchored.to_dict(), TrainConfig(epochs=3)) == anchored
    old = {k: v for k, v in anchored.to_dict().items() if k not in ("lr", "lr_epoch")}  # before the anchor
    assert Position.from_dict(old, TrainConfig(epochs=3)) == Position(epoch=1, step=7, samples_seen=50)


@pytest.mark.parametrize(("change", "match"), [
    ({"epoch_loss_sum": NAN}, "finite"),
    ({"best_val_loss": INF}, "finite"),
    ({"best_val_loss": "0.4"}, "finite"),
    ({"step": -1}, "negative"),
    ({"bad_epochs": -2}, "negative"),
    ({"epoch": 99}, "epoch 99 of 3"),
    ({"epoch": 3, "batch_in_epoch": 1}, "steps into epoch 4 of 3"),
    ({"step": 1.5}, "whole number"),
    ({"step": True}, "whole number"),
    ({"epoch_correct": 30}, "impossible"),
    ({"batch_in_epoch": 8}, "impossible"),
    ({"surprise": 1}, "unknown fields"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"lr": NAN}, "lr must be a positive number"),
    ({"lr_epoch": -1}, "lr_epoch must be a whole number"),
])
def test_position_refuses_bad_values(change, match):
    d = Position(epoch=1, step=7, samples_seen=50, batch_in_epoch=3, epoch_count=24, epoch_correct=5).to_dict()
    d.update(change)
    with pytest.raises(ValueError, match=match):
        Position.from_dict(d, TrainConfig(epochs=3))


def test_position_refuses_missing_fields_and_non_objects():
    d = Position().to_dict()
    del d["step"]
    with pytest.raises(ValueError, match="lacks step"):
        Position.from_dict(d, TrainConfig())
    with pytest.raises(ValueError, match="must be an object"):
        Position.from_dict([1, 2], TrainConfig())  # type: ignore[arg-type]


# ---- gradient statistics ------------------------------------------------------------------------------


def test_histogram_edges_and_bins():
    assert len(HISTOGRAM_EDGES) == 25 and HISTOGRAM_EDGES[0] == -10.0 and HISTOGRAM_EDGES[-1] == 2.0
    assert HISTOGRAM_EDGES[16] == -2.0
    counts = histogram(np.array([0.0, 1e-12, 1e-3, -1e-3, 0.02, 1e5, np.nan, np.inf]))
    expected = [0] * 24
    expected[0] = 2  # zero and 1e-12 clamp into the first bin
    expected[14] = 2  # |g| = 1e-3 sits on the edge -3.0: bins are [lo, hi)
    expected[16] = 1  # log10(0.02) = -1.70 in [-2.0, -1.5)
    expected[23] = 1  # 1e5 clamps into the last bin; NaN and inf count nowhere
    assert counts == tuple(expected)


def test_layer_grad_stats_values():
    g = np.array([3.0, -4.0, 0.0, 0.0])
    w = np.array([1.0, 1.0, -1.0, 1.0])
    s = layer_grad_stats("r", 5, 1, g, w, 0.1, dead_fraction([True, False, False, True]))
    assert (s.step, s.layer, s.mean, s.max_abs, s.dead_fraction) == (5, 1, -0.25, 4.0, 0.5)
    assert s.std == pytest.approx(math.sqrt((3.25**2 + 3.75**2 + 2 * 0.25**2) / 4))
    assert s.update_ratio == pytest.approx(0.1 * 2.5)
    assert sum(s.histogram) == 4 and s.histogram_edges == HISTOGRAM_EDGES
    assert dead_fraction(None) == 0.0 and dead_fraction(np.array([], bool)) == 0.0
    assert dead_fraction(np.array([1, 1, 1, 0], bool)) == 0.25  # the dead are the ones not alive
    z = layer_grad_stats("r", 1, 0, np.zeros(3), np.zeros(3), 0.1)
    assert z.update_ratio == 0.0 and z.histogram[0] == 3
    nan = layer_grad_stats("r", 1, 0, np.array([np.nan, 1.0]), np.ones(2), 0.1)
    assert math.isnan(nan.mean) and sum(nan.histogram) == 1


def test_conftest_keeps_tests_offline_and_out_of_the_cache():
    import os
    import socket
    import urllib.request

    with pytest.raises(OSError, match="tests run offline"):  # urllib wraps it in URLError
        urllib.request.urlopen("http://example.com", timeout=1)
    with pytest.raises(OSError) as blocked:  # by name: `conftest` may be tests/tui's module in a mixed session
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    assert type(blocked.value).__name__ == "NetworkBlocked"
    assert "MNIST_DASH_DATA" not in os.environ
    assert os.environ["XDG_CACHE_HOME"].startswith(os.environ["HOME"]) and os.path.expanduser("~") == os.environ["HOME"]
    from core.data import cache_dir

    assert str(cache_dir()).startswith(os.environ["HOME"])


def test_scheduled_rate_is_a_function_of_the_epoch():
    drops = (2, 4)
    assert [scheduled_rate(0.5, 0, e, drops) for e in (1, 2, 3, 4, 5)] == [0.5, 0.5 * 0.1, 0.5 * 0.1,
                                                                           0.5 * 0.1 * 0.1, 0.5 * 0.1 * 0.1]
    assert scheduled_rate(0.5, 2, 3, drops) == 0.5  # the drop at 2 is already in a rate anchored at 2
    assert scheduled_rate(0.5, 2, 4, drops) == 0.5 * 0.1
    assert scheduled_rate(0.5, 4, 9, drops) == 0.5
    assert scheduled_rate(0.5, 1, 2, drops) == 0.5 * 0.1  # anchored in epoch 1: the drop at 2 still comes
    assert scheduled_rate(0.5, 0, 1, ()) == 0.5


def train_book(book: RunBook, steps_per_epoch: int, *, until_step: int | None = None,
               requests: dict[int, float] | None = None) -> dict[int, set[float]]:
    """Drive a book like a backend (next_lr before each update, end_epoch after each epoch); {epoch: rates}."""
    rates: dict[int, set[float]] = {}
    lr = book.lr
    p = book.position
    while p.epoch < book.config.epochs:
        epoch = p.epoch + 1
        for _ in range(p.batch_in_epoch, steps_per_epoch):
            if until_step is not None and p.step >= until_step:
                return rates
            if requests and p.step in requests:
                book.control.apply(Command("lr", requests.pop(p.step)), "cli")
            new = book.next_lr()
            lr = lr if new is None else new
            assert lr == book.lr
            rates.setdefault(epoch, set()).add(lr)
            book.record_step(1, 0.0, 0)
        book.end_epoch(epoch, None)
    return rates


@pytest.mark.parametrize("steps_per_epoch", [1, 3])
def test_a_resume_from_any_point_trains_every_later_epoch_at_the_scheduled_rate(steps_per_epoch):
    """--lr 0.1 --lr-drop-epochs 2,4: a checkpoint taken at any step (what a resume after SIGKILL reads), then a
    resume, gives each epoch the rate of an uninterrupted run (epochs 2-3 at 0.01, 4 at 0.001)."""
    config = TrainConfig(epochs=5, lr=0.1, lr_drop_epochs=(2, 4))
    straight = train_book(RunBook(config, "r", total_steps=99), steps_per_epoch)
    assert straight == {1: {0.1}, 2: {0.1 * 0.1}, 3: {0.1 * 0.1}, 4: {0.1 * 0.1 * 0.1}, 5: {0.1 * 0.1 * 0.1}}
    for kill in range(0, 5 * steps_per_epoch):
        first = RunBook(config, "r", total_steps=99)
        before = train_book(first, steps_per_epoch, until_step=kill)
        saved = Position.from_dict(first.position.to_dict(), config)  # the checkpoint's progress
        after = train_book(RunBook(config, "r", total_steps=99, position=saved), steps_per_epoch)
        for epoch in after:
            assert after[epoch] == straight[epoch], (kill, epoch)
        assert {e: before[e] | after.get(e, set()) for e in before} == {e: straight[e] for e in before}


def test_a_live_change_moves_the_anchor_and_later_drops_apply_to_it():
    config = TrainConfig(epochs=5, lr=0.1, lr_drop_epochs=(2, 4))
    seen = []
    book = RunBook(config, "r", total_steps=99, emit=seen.append, control=RunControl())
    rates = train_book(book, 2, requests={5: 0.5})  # step 5: the second update of epoch 3
    assert rates == {1: {0.1}, 2: {0.1 * 0.1}, 3: {0.1 * 0.1, 0.5}, 4: {0.5 * 0.1}, 5: {0.5 * 0.1}}
    assert [(e.step, e.lr, e.previous, e.source) for e in seen] == [
        (2, 0.1 * 0.1, 0.1, "schedule"), (5, 0.5, 0.1 * 0.1, "cli"), (6, 0.5 * 0.1, 0.5, "schedule")]
    # a checkpoint after the change keeps it: resumed in epoch 3, epoch 4 drops from 0.5
    resumed = Position(epoch=2, step=5, samples_seen=5, batch_in_epoch=1, lr=0.5, lr_epoch=3)
    assert RunBook(config, "r", total_steps=99, position=resumed).lr == 0.5
    assert train_book(RunBook(config, "r", total_steps=99, position=resumed), 2) == {3: {0.5}, 4: {0.5 * 0.1},
                                                                                      5: {0.5 * 0.1}}


def test_a_checkpoint_without_the_anchor_resumes_as_before_from_config_lr():
    # wave 2's checkpoints: config.json's lr was the rate the run went on with; started epochs count as applied
    config = TrainConfig(epochs=3, lr=0.5, lr_drop_epochs=(2, 3))
    mid_epoch_2 = Position.from_dict({**Position(epoch=1, step=13, samples_seen=52, batch_in_epoch=1).to_dict(),
                                      "lr": None}, config)
    assert train_book(RunBook(config, "r", total_steps=99, position=mid_epoch_2), 2) == {2: {0.5}, 3: {0.5 * 0.1}}


def test_requested_rates_are_refused_where_not_allowed_and_kept_by_a_stop():
    seen = []
    control = RunControl()
    book = RunBook(TrainConfig(epochs=3, lr=0.1), "r", total_steps=9, emit=seen.append, control=control)
    book.requests_allowed = False
    control.apply(Command("lr", 0.2), "cli")
    assert book.next_lr() is None and book.lr == 0.1
    assert [type(e).__name__ for e in seen] == ["LogLine"] and "single-device" in seen[0].message
    book.requests_allowed = True
    seen.clear()
    book.record_step(1, 0.0, 0)
    control.apply(Command("lr", 0.3), "key")
    control.apply(Command("stop"), "signal")
    assert book.stop() == "stopped" and book.position.lr == 0.3  # the checkpoint keeps the rate sent last
    assert [(type(e).__name__, e.step) for e in seen] == [("LearningRateChanged", 1), ("ControlApplied", 1)]
    assert (seen[1].command, seen[1].source) == ("stop", "signal")
    assert book.message == "stopped at step 1 (epoch 1)"


def test_a_stop_with_a_reason_ends_the_run_with_it():
    control = RunControl()
    book = RunBook(TrainConfig(epochs=3), "r", total_steps=9, control=control)
    control.stop("pruned", source="sweep")
    assert book.stop() == "pruned" and book.message == "pruned at step 0 (epoch 1)"
    event, summary = book.finished()
    assert event.reason == summary.reason == "pruned"
    with pytest.raises(ValueError, match="reason"):
        RunControl().stop("failed")


def test_settle_records_each_command_once_at_the_step_it_is_obeyed():
    seen = []
    control = RunControl()
    book = RunBook(TrainConfig(epochs=3), "r", total_steps=9, emit=seen.append, control=control)
    book.position.step = 4
    control.apply(Command("pause"), "key")
    control.apply(Command("pause"), "cli")  # already paused: nothing to obey, nothing recorded
    book.settle(obeyed_only=True)  # a pause still in force waits for the check that obeys it
    assert seen == []
    book.settle()
    control.apply(Command("resume"), "follower")
    control.apply(Command("resume"), "cli")  # already running
    book.position.step = 5
    control.apply(Command("stop"), "signal")
    control.apply(Command("stop"), "key")  # one stop is obeyed
    book.settle(obeyed_only=True)  # the resume now; the stop where the run stops
    book.position.step = 6
    book.settle()
    assert [(e.step, e.command, e.source) for e in seen] == [
        (4, "pause", "key"), (5, "resume", "follower"), (6, "stop", "signal")]
    assert all(isinstance(e, ControlApplied) and e.run_id == "r" for e in seen)


def test_commands_are_checked_where_they_are_made():
    assert Command("lr", "0.5").value == 0.5 and Command("stop").value is None
    for bad in [("lr", 0), ("lr", 11), ("lr", math.nan), ("lr", None), ("stop", 1.0), ("jump", None)]:
        with pytest.raises(ValueError):
            Command(*bad)
    assert MAX_LR == 10.0 and Command("lr", MAX_LR).value == MAX_LR
