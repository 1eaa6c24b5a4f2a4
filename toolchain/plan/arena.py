"""Static tensor arena: offsets from tensor lifetimes, greedy first-fit by size (like TFLM's greedy planner).

Tensors that share storage (a RESHAPE output and its input, an in-place ADD output and its dying input) form
one storage group; a group lives from its first write to its last read. Groups are placed largest first at the
lowest offset that does not overlap any already placed group alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 4


@dataclass
class StorageGroup:
    key: str
    size: int
    first: int  # index of the op that writes it first (-1 for a graph input)
    last: int  # index of the op that reads it last
    offset: int = -1


def align_up(value: int, align: int = ALIGN) -> int:
    return -(-value // align) * align


def _overlaps_in_time(a: StorageGroup, b: StorageGroup) -> bool:
    return a.first <= b.last and b.first <= a.last


def place(groups: list[StorageGroup]) -> int:
    """Assign `offset` to every group; return the arena size in bytes."""
    placed: list[StorageGroup] = []
    for group in sorted(groups, key=lambda g: (-g.size, g.first, g.key)):
        busy = sorted((p.offset, p.offset + align_up(p.size)) for p in placed if _overlaps_in_time(p, group))
        offset = 0
        for start, end in busy:
            if offset + group.size <= start:
                break
            offset = max(offset, end)
        group.offset = offset
        placed.append(group)
    return max((align_up(g.offset + g.size) for g in groups), default=0)
