"""Synthetic world generation: time to build and write 100k and 1M accounts, and what the world holds.

    .venv/bin/python bench/generate.py [--sizes 100000,1000000] [--preset default|second] [--seed 1]

`build + write` is what `ringfence generate --out FILE` (`write_jsonl`) does; `generate()` is the
dict stream `ringfence load` and the benchmarks consume, timed separately (records are dropped).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

import numpy as np

from ringfence.graph.synthetic import KINDS, World, build_world, generate, params_for, write_world


def summary(world: World) -> list[str]:
    kind, group, late = world.kind, world.group, world.late
    count = {k: int(((kind == i) & ~late).sum()) for i, k in enumerate(KINDS)}
    ring_sizes = np.bincount(group[(kind == KINDS.index("ring")) & ~late])[1:]
    edges = [2, 3, 4, 6, 11, 21, 31, 51]
    histogram = np.histogram(ring_sizes, bins=edges + [np.inf])[0]
    names = [f"{a}-{b - 1}" if b > a + 1 else f"{a}" for a, b in zip(edges, edges[1:], strict=False)] + ["51+"]
    buckets = ", ".join(f"{name}: {n}" for name, n in zip(names, histogram, strict=True) if n)
    groups = {k: int(group[kind == KINDS.index(k)].max(initial=0)) for k in ("household", "agency")}
    degrees = np.sort(np.bincount(world.link_identifier, minlength=world.identifier_type.size)[world.hubs])
    ring_members = (kind == KINDS.index("ring")) & ~late
    flagged = np.bincount(group[ring_members], weights=world.label[ring_members] == 1)[1:]
    labels = np.bincount(world.label + 1, minlength=3)
    joiners = int((late & world.fraud).sum())
    return [
        f"rings {ring_sizes.size} ({int(ring_sizes.sum())} accounts), size median {np.median(ring_sizes):.0f},"
        f" p90 {np.percentile(ring_sizes, 90):.0f}, max {ring_sizes.max()}; sizes {buckets}",
        f"rings with no labelled member {(flagged == 0).sum()} of {ring_sizes.size}",
        f"households {groups['household']} ({count['household']} accounts), agencies {groups['agency']}"
        f" ({count['agency']} accounts), lone fraudsters {count['lone']}, ordinary legit {count['legit']}",
        f"late stream {int(late.sum())}: {joiners} join existing rings, {int(late.sum()) - joiners} new legit",
        f"hubs {degrees.size}: degree min {degrees.min()}, median {np.median(degrees):.0f}, max {degrees.max()};"
        f" >=200: {(degrees >= 200).sum()}, >=1000: {(degrees >= 1000).sum()}",
        f"labels fraud {labels[2]}, legit {labels[1]}, none {labels[0]} ({(labels[1] + labels[2]) / late.size:.1%}"
        f" labelled); true fraud {int(world.fraud.sum())} ({world.fraud.mean():.2%})",
        f"identifiers {world.identifier_type.size}, links {world.link_account.size}"
        f" ({world.link_account.size / late.size:.2f} per account)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # The machine may be shared: the load average says how much the figures can be trusted.
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
          f" load average {os.getloadavg()[0]:.1f}")
    for size in map(int, args.sizes.split(",")):
        params = params_for(args.preset, accounts=size, seed=args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "world.jsonl"
            started = time.perf_counter()
            world = build_world(params)
            build = time.perf_counter() - started
            with path.open("w") as fh:
                write_world(world, fh)
            took = time.perf_counter() - started
            megabytes = path.stat().st_size / 1e6
        started = time.perf_counter()
        records = sum(1 for _ in generate(params))
        stream = time.perf_counter() - started
        assert records == size
        print(f"\n{args.preset} world, {size:,} accounts, seed {args.seed}")
        print(f"  build + write JSONL: {took:.1f} s (build {build:.1f} s, write {took - build:.1f} s),"
              f" {size / took:,.0f} records/s, {world.link_account.size:,} links, {megabytes:,.0f} MB")
        print(f"  generate() dicts: {stream:.1f} s, {size / stream:,.0f} records/s")
        for line in summary(world):
            print(f"  {line}")


if __name__ == "__main__":
    main()
