"""Reading what a query's checkpoint has committed (Spark's offset and commit logs)."""

from __future__ import annotations

import json

from kafka.offsets import processed_offsets
from spark.checkpoints import committed_progress

META = json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}})


def write_batch(checkpoint, batch_id: int, ends: dict, committed: bool) -> None:
    (checkpoint / "offsets").mkdir(parents=True, exist_ok=True)
    (checkpoint / "commits").mkdir(parents=True, exist_ok=True)
    (checkpoint / "offsets" / str(batch_id)).write_text(f"v1\n{META}\n{json.dumps({'t': ends})}")
    if committed:
        (checkpoint / "commits" / str(batch_id)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def test_the_last_committed_batch_not_the_last_planned_one(tmp_path) -> None:
    write_batch(tmp_path, 9, {"0": 5, "1": 7}, committed=True)
    write_batch(tmp_path, 10, {"0": 8, "1": 9}, committed=False)  # planned, never committed: replayed later
    progress = committed_progress(tmp_path, "t")
    assert progress["batchId"] == 9
    assert processed_offsets(progress, "t") == {0: 5, 1: 7}


def test_a_fresh_checkpoint_has_committed_nothing(tmp_path) -> None:
    assert committed_progress(tmp_path / "none", "t") is None
