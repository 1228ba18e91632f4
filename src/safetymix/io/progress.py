"""One rich progress bar for work done in chunks (the CLI turns it on with ``show_progress``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(
    description: str,
    total: int | None,
    *,
    enabled: bool = True,
    unit: str = "records",
    completed: int = 0,
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``.

    Parameters
    ----------
    description : str
        Shown left of the bar.
    total : int or None
        Work to do (None: unknown, the bar pulses and the count still shows).
    enabled : bool, default True
        False yields a no-op, so library code can call ``advance`` unconditionally.
    unit : str
        Name of what is counted; the bar shows the rate (``unit/s``) and the time left.
    completed : int, default 0
        Work already done (a resumed run); the rate counts only what this run does.

    Examples
    --------
    >>> with progress_bar("labelling", 10, enabled=False) as advance:
    ...     advance(10)
    """
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:  # type: ignore[no-untyped-def]
            speed = task.speed
            return Text(f"{speed:.2f} {unit}/s" if speed else f"- {unit}/s")

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total, completed=completed)
        yield lambda n: progress.advance(task, n)


#: (module, "is on" test, turn off, turn on) of each library's own progress bars.
_BAR_SWITCHES = (
    ("transformers.utils.logging", "is_progress_bar_enabled", "disable_progress_bar", "enable_progress_bar"),
    ("datasets", "is_progress_bar_enabled", "disable_progress_bars", "enable_progress_bars"),
    ("huggingface_hub.utils", "are_progress_bars_disabled", "disable_progress_bars", "enable_progress_bars"),
)


@contextmanager
def quiet_third_party_bars(quiet: bool = True) -> Iterator[None]:
    """Hide transformers', datasets' and huggingface_hub's own progress bars while ours shows.

    Each library's switch is restored afterwards; a library that is not installed is skipped.
    """
    switches = []
    if quiet:
        for module, is_on, off, on in _BAR_SWITCHES:
            try:
                mod = __import__(module, fromlist=[off])
            except ImportError:
                continue
            was_on = getattr(mod, is_on)()
            if is_on == "are_progress_bars_disabled":
                was_on = not was_on
            getattr(mod, off)()
            switches.append((was_on, getattr(mod, on)))
    try:
        yield
    finally:
        for was_on, on in switches:
            if was_on:
                on()
