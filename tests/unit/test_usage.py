"""`core.usage`: the figures a sharded sweep records per task to size its workers."""

from __future__ import annotations

import multiprocessing as mp
import time

from ringfence.core.usage import Usage, peak_rss_mb

MB = 1024 * 1024


def _task(queue: mp.Queue) -> None:  # type: ignore[type-arg]
    before = peak_rss_mb()
    block = bytearray(96 * MB)
    block[::4096] = b"\x01" * len(block[::4096])  # touch every page: resident, not just reserved
    queue.put((before, peak_rss_mb()))


def test_a_fresh_pool_process_reports_its_own_peak_not_its_parents() -> None:
    # given a parent whose peak is far above what a child needs
    ballast = bytearray(256 * MB)
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    parent_peak = peak_rss_mb()
    del ballast
    # when a forked child (a pool process with --max-tasks-per-child 1) allocates 96 MB
    queue: mp.Queue = mp.get_context("fork").Queue()  # type: ignore[type-arg]
    child = mp.get_context("fork").Process(target=_task, args=(queue,))
    child.start()
    before, after = queue.get(timeout=60)
    child.join(60)
    # then its peak starts from its own footprint and grows by what it allocated
    assert before < parent_peak - 128
    assert after - before >= 90


def test_figures_count_time_and_cpu_since_start() -> None:
    usage = Usage()
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    figures = usage.figures()
    assert figures["cpu_s"] >= 0.05 and figures["seconds"] >= figures["cpu_s"] * 0.5
    assert figures["peak_rss_mb"] == peak_rss_mb() > 0
