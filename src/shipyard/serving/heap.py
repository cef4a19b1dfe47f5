"""The scoring process's garbage collector: long-lived objects moved out of its way.

Measured under load (issue 10, 16 clients on 2 cores): full collections (generation 2) ran
every second or two and each took about 140 ms, scanning the 200,000-odd objects of the
imported libraries and the loaded model, all of which live as long as the process. Each one
stalled the event loop and the predict thread alike, and they were the whole p99 tail (p99
nine times p50). `gc.freeze()` after a load moves every object alive at that moment into a
permanent generation the collector no longer scans; a full collection then takes under a
millisecond, and the young generations, where requests' garbage lives, work as before.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived"]


def freeze_long_lived() -> None:
    """Collect once, then exempt every surviving object from later collections.

    Called after each model load. Frozen objects are never collected, so the previous
    freeze is undone first: the cycles of a version that was replaced since are collected
    now instead of staying in memory for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
