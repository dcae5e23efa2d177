"""``python -m stemjourney.cli``: the same as the ``stemjourney`` command."""

from stemjourney.cli import main

main()
