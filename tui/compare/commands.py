"""The compare screen's chart controls in the command palette (the same actions as its keys)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (command, help, action on the compare screen)
CHART_COMMANDS = (
    ("Chart: more smoothing", "Exponential smoothing one step up (to 0.999)", "smoothing(1)"),
    ("Chart: less smoothing", "Exponential smoothing one step down (to 0)", "smoothing(-1)"),
    ("Chart: toggle log loss", "Plot log10 of the loss", "log_loss"),
    ("Chart: next x axis", "Step, epoch, samples seen or wall time", "x_axis"),
    ("Chart: next window", "All steps, or the last N steps following the newest", "window"),
    ("Chart: zoom in", "Narrow the x range around the crosshair", "zoom(1)"),
    ("Chart: zoom out", "Widen the x range", "zoom(-1)"),
    ("Chart: toggle ignore outliers", "y range of the 1st to 99th percentile, or everything", "y_mode"),
    ("Chart: group seeds", "Runs differing only by seed as mean with a min-max band, or apart", "group_seeds"),
    ("Chart: export CSV", "The shown series of every run as CSV in the runs folder", "export_csv"),
    ("Chart: save SVG", "A screenshot of this screen", "screenshot"),
)


class ChartCommands(Provider):
    """Chart controls of the screen the palette was opened on."""

    def _run(self, action: str):
        return partial(self.screen.run_action, action)

    async def discover(self) -> Hits:
        for name, help_text, action in CHART_COMMANDS:
            yield DiscoveryHit(name, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in CHART_COMMANDS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._run(action), help=help_text)
