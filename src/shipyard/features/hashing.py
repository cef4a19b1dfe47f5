"""Content addresses of definitions and fitted state: the sha256 of a canonical JSON form.

Canonical means one spelling per value (sorted keys, no spaces, no NaN), so the same
definition hashes the same on every machine and in every process, and any change to it,
however small, is a new hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "content_hash"]


def canonical_json(value: Any) -> str:
    """The one JSON spelling of `value` (which must hold only JSON types)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(value: Any) -> str:
    """The sha256 (hex) of `value`'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
