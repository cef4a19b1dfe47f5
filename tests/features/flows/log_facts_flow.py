"""A step that logs facts one at a time and ends without flushing them itself."""

from datetime import UTC, datetime

from shipyard import FlowSpec, facts, step


class LogFactsFlow(FlowSpec):
    @step
    def start(self):
        facts.table(
            "plays",
            entity="member_id",
            event_time="ts",
            schema={"member_id": "int", "ts": "timestamp", "seconds": "float"},
        )
        for member in range(5):
            ts = datetime(2026, 1, 1, tzinfo=UTC)
            facts.log("plays", {"member_id": member, "ts": ts, "seconds": float(member)})
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LogFactsFlow()
