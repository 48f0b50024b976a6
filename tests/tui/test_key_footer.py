"""KeyFooter (tui/footer_fit.py): rebuilt only when the keys it shows change, its keys born in its own style."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tui.footer_fit import KeyFooter


class Keys(Screen[None]):
    BINDINGS = [Binding("x", "toggle", "switch"), Binding("y", "other", "other")]
    allowed = True

    def compose(self) -> ComposeResult:
        yield Static("keys")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "other" and not self.allowed else True  # None: shown, but disabled

    def action_toggle(self) -> None:
        self.allowed = not self.allowed
        self.refresh_bindings()


class Over(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def compose(self) -> ComposeResult:
        yield KeyFooter()


class FooterApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Keys())


def keys_of(screen: Screen) -> list[FooterKey]:
    return [key for key in screen.query(FooterKey) if not key.has_class("-command-palette")]


async def test_a_screen_shown_again_keeps_its_footer_and_a_changed_key_rebuilds_it():
    app = FooterApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        screen = app.screen
        before = keys_of(screen)
        assert [key.description for key in before] == ["switch", "other"]
        await app.push_screen(Over())
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and keys_of(screen) == before  # the same keys: not rebuilt
        await pilot.press("x")  # `y` is now refused: its key is drawn disabled, so the footer is rebuilt
        await pilot.pause()
        after = keys_of(screen)
        assert after != before and [key.has_class("-disabled") for key in after] == [False, True]


async def test_keys_start_in_the_footers_style():
    app = FooterApp()
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(KeyFooter)
        assert not footer.compact and not any(key.has_class("-compact") for key in keys_of(app.screen))
        footer.compact = True
        await pilot.pause()
        assert all(key.has_class("-compact") for key in keys_of(app.screen))
