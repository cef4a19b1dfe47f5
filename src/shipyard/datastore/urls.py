"""What kind of place a datastore URL names, without importing fsspec.

fsspec takes ~40 ms to import (and its pages in every forked process); the commands that
only need to know a URL's protocol (is it in memory? local? which Metaflow datastore kind?)
read it here by fsspec's own rule instead.
"""

from __future__ import annotations

import re

__all__ = ["protocol"]

_SEPARATOR = re.compile(r"::|://")


def protocol(url: str) -> str:
    """The fsspec protocol of `url`: what precedes its first `://` or `::` (the outermost
    layer of a chained URL), else `file` for a plain path; as `fsspec.utils.get_protocol`."""
    parts = _SEPARATOR.split(url, maxsplit=1)
    return parts[0] if len(parts) > 1 else "file"
