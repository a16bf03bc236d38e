"""What a step of work cost this process: wall and CPU seconds, and its peak resident memory.

Sharded sweeps record these per step (partition, each shard, finish) in the published sweep's
stats, so an operator can size workers from a real sweep: a shard worker's peak memory is set
by the shard size, the coordinator's by the number of accounts.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, field


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB. A forked pool process starts its own
    count (Linux), so a task run in a fresh child reports that task's peak."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # macOS reports bytes


@dataclass
class Usage:
    """Started at construction; `figures()` is what it cost since, with the peak RSS so far."""

    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.process_time)

    def figures(self) -> dict[str, float]:
        return {"seconds": round(time.perf_counter() - self.wall0, 3),
                "cpu_s": round(time.process_time() - self.cpu0, 3), "peak_rss_mb": peak_rss_mb()}
