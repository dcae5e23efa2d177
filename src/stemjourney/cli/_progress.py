"""One progress style for every long command.

On a terminal, click's progress bar on stderr; otherwise (a pipe, a file, a CI log)
nothing while the work runs and one final count. Either way stderr ends with a newline,
and standard output carries only the command's answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

__all__ = ["progress"]


@contextmanager
def progress(label: str, unit: str, length: int | None = None) -> Iterator[Callable[[int], None]]:
    """Yield ``update(done)``, to be called with the running total of ``unit`` done.

    ``length`` is the total when it is known; a bar is drawn only on a terminal and
    only with a length. The final line is ``label: N unit``.
    """
    done = [0]
    if length is not None and sys.stderr.isatty():
        with click.progressbar(length=length, label=label, file=sys.stderr) as bar:

            def step(total: int) -> None:
                bar.update(total - done[0])
                done[0] = total

            yield step
        return

    def count(total: int) -> None:
        done[0] = total

    yield count
    click.echo(f"{label}: {done[0]} {unit}", err=True)
