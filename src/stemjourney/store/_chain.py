"""The audit log's hash chain: each entry's hash covers its content and the previous hash.

Changing, removing or reordering any entry breaks every hash after it, which
:func:`~stemjourney.store.Store.verify` detects.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["GENESIS", "AuditFields", "entry_hash"]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""

AuditFields = tuple[int, str, str | None, str | None, int | None, str, str, str | None, str]
"""(id, action, patient_id, journey_id, version, recorded_at, actor, idempotency_key, payload)."""


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, fields: AuditFields) -> str:
    """The SHA-256 (hex) of ``prev_hash`` followed by the entry's fields.

    >>> entry_hash(GENESIS, (1, "move", None, "j1", 2, "t", "dr.a", None, "{}"))[:12]
    '20057fbe4559'
    """
    material = _ENCODER.encode([prev_hash, *fields])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
