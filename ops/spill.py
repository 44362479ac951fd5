"""Sets too large for memory, spilled to disk in shards: each item goes to one of N files by a hash of its key,
and the files are read back one at a time, so a comparison holds one shard (1/N of the items) at once.

Items are tuples of bytes, str and int, written with `marshal` (C speed, no class per item).
"""

from __future__ import annotations

import marshal
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class Spill:
    def __init__(self, folder: Path, name: str, shards: int) -> None:
        self.paths = [folder / f"{name}-{i:03d}" for i in range(shards)]
        self._files: list[BinaryIO] | None = [path.open("wb", buffering=1 << 16) for path in self.paths]
        self.count = 0

    def shard_of(self, key: bytes | str) -> int:
        raw = key.encode() if isinstance(key, str) else key
        return zlib.crc32(raw) % len(self.paths)

    def add(self, key: bytes | str, *values) -> None:
        """Spill (key, *values); items with equal keys land in the same shard."""
        marshal.dump((key, *values), self._files[self.shard_of(key)])
        self.count += 1

    def close(self) -> None:
        if self._files is not None:
            for f in self._files:
                f.close()
            self._files = None

    def shard(self, index: int) -> Iterator[tuple]:
        """The items of one shard, in the order they were added."""
        self.close()
        with self.paths[index].open("rb", buffering=1 << 16) as f:
            while True:
                try:
                    yield marshal.load(f)
                except EOFError:
                    return

    def __len__(self) -> int:
        return len(self.paths)
