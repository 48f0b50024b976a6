"""The dashboard's history of runs (each a core.records.fold.RunFold) and the curves its plots draw from them."""

from __future__ import annotations

import csv
import io

from run_records import write_run

from core.compare import build_view
from core.events import EpochEnded, LearningRateChanged, LogLine, RunFinished, RunStarted, ScalarWatch, StepEnded
from core.records.curves import load_run, smooth
from core.records.export import write_rows
from core.records.jsonl import read_jsonl
from core.settings import ChartSettings
from tui.history import History, Series
from tui.widgets.plots import curve_points, legend


def _started(run_id: str) -> RunStarted:
    return RunStarted(run_id=run_id, backend="scalar", device="cpu", data_source="sample", config={},
                      train_size=10, val_size=5, test_size=5)


def test_series_stays_bounded_and_ends_at_latest_point():
    s = Series(capacity=16)
    for i in range(1000):
        s.append(i, i * 2.0)
    assert len(s) <= 17
    xs, ys = s.points()
    assert xs[0] == 0 and xs[-1] == 999 and ys[-1] == 1998
    assert xs == sorted(xs)
    assert s.count == 1000


def test_history_rotates_runs_and_tracks_watches():
    h = History()
    h.add(_started("a"))
    h.add(StepEnded(run_id="a", step=1, epoch=1, loss=2.0, accuracy=0.1, samples_per_s=5, samples_seen=8,
                    progress=0.1))
    h.add(EpochEnded(run_id="a", epoch=1, step=1, train_loss=2, train_accuracy=0.1, val_loss=1.5,
                     val_accuracy=0.2, epoch_seconds=1))
    h.add(ScalarWatch(run_id="a", step=1, address="L0.N0.b", data=0.5, grad=0.1))
    h.add(ScalarWatch(run_id="a", step=2, address="L0.N0.b", data=0.4, grad=0.2))
    h.add(LogLine(run_id="a", level="info", message="hi"))
    h.add(RunFinished(run_id="a", reason="completed", steps=2, epochs_completed=1, seconds=1.0))
    run = h.current
    assert run is not None and run.status == "completed" and run.step == 1
    assert run.val_accuracy.last == (1, 0.2)
    assert abs(run.watches["L0.N0.b"].update - (-0.1)) < 1e-12
    assert run.watches["L0.N0.b"].grad.ys == [0.1, 0.2]
    h.add(_started("b"))
    assert h.previous is run and h.current.run_id == "b" and h.current.status == "running"


def test_history_marks_are_the_current_runs_fold():
    h = History()
    assert h.marks.lr is None and not h.marks.system
    h.add(_started("a"))
    h.add(LearningRateChanged(run_id="a", step=3, lr=0.01, previous=0.1, source="key"))
    assert h.marks is h.current and h.marks.lr == 0.01 and legend(h.current).endswith("lr change")
    h.add(_started("b"))  # a new run starts afresh
    assert h.marks.lr is None and not h.marks.lr_changes and "lr change" not in legend(h.current)


def test_the_dashboard_compare_and_csv_smooth_with_one_function(tmp_path):
    """The same record gives the same smoothed training curve on the dashboard, the compare screen and the CSV."""
    run_dir = write_run(tmp_path, "a", losses=(1.0, 0.0, 1.0, 0.5), accuracies=(0.25, 0.5, 0.75, 1.0))
    history = History()
    history.extend(read_jsonl(run_dir / "events.jsonl"))  # as the dashboard folds its own or a followed run
    weight = 0.5
    xs, raw, shown = curve_points(history.current.train_loss, smoothing=weight)
    compared = next(li for li in build_view([load_run(run_dir)], ChartSettings(smoothing=weight)).lines
                    if li.series == "train_loss")
    buffer = io.StringIO()
    write_rows(buffer, [run_dir], smoothing=weight)
    exported = [float(r[7]) for r in csv.reader(io.StringIO(buffer.getvalue())) if r[2] == "train_loss"]
    assert shown == compared.ys == exported == smooth([1.0, 0.0, 1.0, 0.5], weight)
    assert xs == [1, 2, 3, 4] and raw == [1.0, 0.0, 1.0, 0.5] and shown != raw


def test_a_diverged_point_is_left_out_and_accuracy_scaled():
    h = History()
    for n, loss in enumerate((1.0, float("nan"), 0.5), 1):
        h.add(StepEnded(run_id="a", step=n, epoch=1, loss=loss, accuracy=n / 4, samples_per_s=5, samples_seen=8 * n,
                        progress=n / 3))
    assert curve_points(h.current.train_loss) == ([1, 3], [1.0, 0.5], [1.0, 0.5])
    assert curve_points(h.current.train_accuracy, scale=100.0)[1] == [25.0, 50.0, 75.0]


async def test_the_curves_pane_marks_rate_changes_from_the_fold_at_the_chart_smoothing():
    from textual.app import App
    from textual.widgets import Static

    from core.settings import save_settings
    from tui.widgets.plots import LR_LEGEND, CurvesPane

    save_settings(ChartSettings(smoothing=0.8))  # the setting the compare screen and the CSV use too

    class Host(App):
        def compose(self):
            yield CurvesPane(id="curves")

    history = History()
    history.add(_started("a"))
    for n in range(1, 6):
        history.add(StepEnded(run_id="a", step=n, epoch=1, loss=1.0 / n, accuracy=0.1 * n, samples_per_s=5,
                              samples_seen=8 * n, progress=n / 5))
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(CurvesPane)
        assert pane.smoothing == 0.8
        pane.redraw(history)
        await pilot.pause()
        legend = str(app.query_one("#plot-legend", Static).content)
        assert LR_LEGEND not in legend
        history.add(LearningRateChanged(run_id="a", step=3, lr=0.01, previous=0.1, source="key"))
        pane.redraw(history)
        await pilot.pause()
        assert str(app.query_one("#plot-legend", Static).content).endswith(LR_LEGEND)


async def test_the_dashboard_rebuilds_no_plot_under_another_screen_and_catches_up_on_return(tmp_path):
    from waiting import wait_for

    from tui.app import make_app
    from tui.widgets.plots import CurvePlot

    app = make_app(runs_dir=tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.dashboard.redrawer is not None)
        plot = app.dashboard.query_one("#loss-plot", CurvePlot)
        app.history.add(_started("a"))
        app.history.add(StepEnded(run_id="a", step=1, epoch=1, loss=2.0, accuracy=0.1, samples_per_s=5,
                                  samples_seen=8, progress=0.1))
        app.redraw(force=True)
        drawn = plot.generation
        await pilot.press("i")  # the inspector covers the dashboard
        await wait_for(pilot, lambda: app.screen is not app.dashboard)
        app.history.add(StepEnded(run_id="a", step=2, epoch=1, loss=1.5, accuracy=0.2, samples_per_s=5,
                                  samples_seen=16, progress=0.2))
        app.redraw(force=True)  # the timer's tick: new points, but nobody sees the plots
        assert plot.generation == drawn
        await pilot.press("i")
        await wait_for(pilot, lambda: plot.generation > drawn)  # back: the new point is drawn at once
