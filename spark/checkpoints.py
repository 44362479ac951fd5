"""What a query's checkpoint says it has committed, read from Spark's own logs in the checkpoint folder.

`commits/<id>` marks batch <id> done and `offsets/<id>` ends with the source's end offsets as JSON. The job
reads this at start so that its report (and `status`, and the stall watchdog's lag) shows the offsets
processed so far before the first batch of a new driver has run, not a lag of the whole topic.
"""

from __future__ import annotations

import json
from pathlib import Path


def _batch_ids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.glob("[0-9]*") if p.name.isdigit()) if folder.is_dir() else []


def batch_end_offsets(checkpoint: Path, topic: str, batch_id: int) -> dict[int, int] | None:
    path = checkpoint / "offsets" / str(batch_id)
    if not path.exists():
        return None
    ends = json.loads(path.read_text().splitlines()[-1]).get(topic)
    return {int(p): int(o) for p, o in ends.items()} if ends is not None else None


def committed_progress(checkpoint: Path, topic: str) -> dict | None:
    """The last committed batch as a progress-shaped dict (batchId, sources[0].endOffset), or None."""
    committed = _batch_ids(checkpoint / "commits")
    if not committed:
        return None
    ends = batch_end_offsets(checkpoint, topic, committed[-1])
    if ends is None:
        return None
    return {"batchId": committed[-1], "sources": [{"endOffset": {topic: {str(p): o for p, o in ends.items()}}}]}
