"""An in-memory store for users' tests: the real store on an in-memory SQLite database."""

from __future__ import annotations

from typing import Any

from stemjourney.store import Store, open_store

__all__ = ["memory_store"]


def memory_store(**kw: Any) -> Store:
    """A :class:`~stemjourney.store.Store` in memory, with the same rules as one on disk.

    Keyword arguments are those of :func:`~stemjourney.store.open_store` (``pipeline``,
    ``protocol``, ``clock``, ``busy_timeout``). The data goes when the store is closed.

    >>> with memory_store() as store:
    ...     store.add_patient("MRN-7", actor="desk", patient_id="p-7").id
    'p-7'
    """
    return open_store(":memory:", **kw)
