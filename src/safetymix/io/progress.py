"""One rich progress bar for work done in chunks (the CLI turns it on with ``show_progress``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(
    description: str, total: int | None, *, enabled: bool = True, unit: str = "records"
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
        Name of what is counted.

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
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
