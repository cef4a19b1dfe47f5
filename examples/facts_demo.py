"""Fact tables in a few lines: declare, ingest, restate, read as of a past moment, log, compact.

Run it with `python facts_demo.py`; it writes to the store of the current folder (`.shipyard`,
or `SHIPYARD_DATASTORE`), and `shipyard facts describe plays` then shows what it stored. The
facts are generated here, nothing is downloaded.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shipyard import facts

facts.table(
    "plays",
    entity="member_id",
    event_time="ts",
    schema={"member_id": "int", "ts": "timestamp", "seconds": "float", "genre": "str"},
)

# A week of plays of 50 members, one write: one batch, one recorded_at.
rng = np.random.default_rng(7)
start = datetime(2026, 1, 1, tzinfo=UTC)
plays = pd.DataFrame(
    {
        "member_id": np.repeat(np.arange(50), 7),
        "ts": [start + timedelta(days=d, hours=20) for d in range(7)] * 50,
        "seconds": rng.gamma(2.0, 600.0, 350).round(1),
        "genre": rng.choice(["comedy", "drama", "documentary"], 350),
    }
)
first = facts.ingest("plays", plays)
print(f"ingested {first.row_count} facts recorded at {first.recorded_at:%H:%M:%S.%f}")

# Member 7's play of Jan 3 was logged wrong; the correction restates it.
fix = plays[(plays.member_id == 7) & (plays.ts == start + timedelta(days=2, hours=20))]
restated = facts.ingest("plays", fix.assign(seconds=42.0))

window = {"start": "2026-01-03", "end": "2026-01-04"}
just_before_fix = restated.recorded_at - timedelta(microseconds=1)
now = facts.read("plays", [7], **window)
before = facts.read("plays", [7], as_of=just_before_fix, **window)
print(f"member 7 on Jan 3: {now.seconds.iloc[0]} s now, {before.seconds.iloc[0]} s before the fix")

# A running service logs one fact at a time; the log writes them in batches.
with facts.logger("plays", batch_size=100, interval=1.0) as log:
    for member in range(50):
        ts = start + timedelta(days=8)
        log.log({"member_id": member, "ts": ts, "seconds": 1.0, "genre": "comedy"})

# Compaction merges the small batches; every read, at every as_of, answers as before.
done = facts.compact("plays", small_rows=10_000)
print(f"compacted {len(done.merged)} batches into batch {done.into}")
unchanged = before.equals(facts.read("plays", [7], as_of=just_before_fix, **window))
print(
    f"plays now holds {facts.describe('plays').rows} facts; the as-of read unchanged: {unchanged}"
)
