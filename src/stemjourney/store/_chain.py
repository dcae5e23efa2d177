"""The audit log's hash chain: each entry's hash covers the previous hash, the entry's own
fields and the canonical bytes of every row it wrote.

``hash(n) = H(hash(n-1) || canonical(entry fields) || digest of its rows)``, where ``H``
is SHA-256, or HMAC-SHA256 under a key the host keeps (then nobody without the key can
recompute a rewritten chain). Changing, removing, inserting or reordering any entry
or row breaks the hash of its entry; recomputing that hash breaks the next one, up to
the head, which the host can keep outside the file (:meth:`Store.head
<stemjourney.store.Store.head>`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from stemjourney.exceptions import ValidationError
from stemjourney.store._tables import AUDIT, canonical

__all__ = ["ENTRY_FIELDS", "GENESIS", "Chain", "Head", "rows_digest"]

GENESIS = bytes(32)
"""The hash before the first entry."""

_sha256 = hashlib.sha256

ENTRY_FIELDS = tuple(n for n in AUDIT.names if n not in ("rows_digest", "hash"))
"""The entry's own fields the hash covers: every column but the staged digest and the hash
(so an entry hashes the same on either backend)."""


@attrs.frozen
class Head:
    """The chain's head: the latest entry's sequence number and hash (hex).

    Keep it outside the file (a host's own database, a log, a printout);
    ``verify(expected_head=...)`` then proves the file still extends it.
    """

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """The head written as ``seq:hash`` (what ``str(head)`` gives)."""
        seq, _, digest = str(text).partition(":")
        if not seq.isdigit() or len(digest) != 64 or not _is_hex(digest):
            raise ValidationError(
                "expected_head", "is not a chain head", "'<seq>:<64 hex digits>' from Store.head()"
            )
        return cls(int(seq), digest.lower())


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def rows_digest(rows: Iterable[tuple[str, Sequence[Any]]]) -> bytes:
    """SHA-256 of the canonical bytes of ``(table, row)`` pairs, in order."""
    if isinstance(rows, list) and len(rows) == 1:  # most entries: one record or score
        table, row = rows[0]
        return _sha256(canonical(table, row)).digest()
    hasher = _sha256()
    for table, row in rows:
        hasher.update(canonical(table, row))
    return hasher.digest()


class Chain:
    """How this file's entries are hashed: SHA-256, or HMAC-SHA256 under ``key``."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key

    @property
    def mode(self) -> str:
        """``sha256`` or ``hmac-sha256``."""
        return "sha256" if self.key is None else "hmac-sha256"

    def key_id(self) -> str | None:
        """An id of the key (not the key): tells a wrong key from a tampered chain."""
        if self.key is None:
            return None
        return hmac.new(self.key, b"stemjourney chain key id", hashlib.sha256).hexdigest()[:16]

    def entry_hash(self, prev: bytes, fields: Sequence[Any], digest: bytes) -> bytes:
        """The hash of an entry with ``fields`` (its :data:`ENTRY_FIELDS`) whose rows have
        ``digest``, following an entry whose hash is ``prev``."""
        material = prev + canonical(AUDIT.name, fields) + digest
        if self.key is None:
            return hashlib.sha256(material).digest()
        return hmac.new(self.key, material, hashlib.sha256).digest()
