"""Sweep speed: a full `run_sweep` end to end, time per phase, with the active model of
`--data-dir` (default /tmp/ringfence-bench/data; its version is printed).

    .venv/bin/python bench/sweep.py [--sizes 100000,1000000] [--no-nx]
    .venv/bin/python bench/sweep.py --backend neo4j --graph-url neo4j://neo4j:password@127.0.0.1:7687 --sizes 1000000
    .venv/bin/python bench/sweep.py --sizes 100000 --sharded 200000 [--one-sweep]
    .venv/bin/python bench/sweep.py --sizes 1000000 --sharded 500000 --one-sweep --workers 1,2
    .venv/bin/python bench/sweep.py --sizes 1000000,4000000 --partition 500000
    .venv/bin/python bench/sweep.py --sizes 1000000,4000000 --finish 500000

`--sharded LINKS` runs each size twice, each in its own process (a clean peak-RSS figure): the
single-process sweep (the baseline) and the sharded sweep in process, one shard at a time, with
`RINGFENCE_SWEEP_SHARD_LINKS=LINKS`; it prints both, the partition's figures (shards, largest
component) and the ratios sharded / single-process. `--workers 1,2` then runs the same sharded
sweep as a job on real Celery workers (that many `celery worker -Q jobs -c 1` processes, a real
redis-server, a fresh copy of the world): the coordinator (partition), shard and finishing tasks
each run in a fresh pool process (`--max-tasks-per-child 1`), so each records its own peak RSS
(`ringfence.core.usage`, in the published sweep's stats); every worker's process tree is also
sampled (psutil, every second) for its largest total PSS (shared pages counted once across the tree).

`--partition LINKS` measures the coordinator's step alone on the embedded store, each engine in
its own process: the store's `write_components` (link rows in identifier order folded into a
label per account, written back to the store by component; the coordinator keeps integers per
component) against the reference, `graph.partition.stream_partition` (the whole graph as
integer `GraphArrays`); it prints wall, CPU and peak RSS of each, their ratios, and whether the two
gave the same shards (accounts per shard, and the partition's figures).

`--finish LINKS` measures the finishing step alone on the embedded store: on a cached copy of
the world where one sharded sweep is published and the shards of a second are staged, the
finish as it runs (`shards.finish`: lineage a few shards at a time, `services.staged_lineage`)
against matching every ring at once (the single-process sweep's `publish.build_result`),
alternating, each run in its own process on a fresh copy: wall, CPU and peak RSS of each, the
ratios of the medians, and whether both published the same rings, members, risks and history.

On Neo4j the server is the caller's (e.g. `python -m devservices neo4j --home H
--page-cache 3g`, kept between runs): an empty database is loaded with the world first, as
`ringfence load` does (timed, links/s printed); a database holding the world is reused.

Generating and loading a world takes a while, so each loaded SQLite file (and the world's
truth columns) is cached under /tmp/ringfence-bench between runs; `--fresh` rebuilds it.
At 100k accounts the detection step is also run written plainly with networkx (bipartite
projection + connected components, no hub handling) and the ratio printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

if __name__ == "__main__":
    import _root  # noqa: F401  (bench/_root.py: the repository root on sys.path, this checkout's code only)

from ringfence.graph.loader import load_records  # noqa: E402
from ringfence.graph.sqlite_store import SQLiteStore  # noqa: E402
from ringfence.graph.synthetic import generate, params_for  # noqa: E402

CACHE = Path(os.environ.get("RINGFENCE_BENCH_CACHE", "/tmp/ringfence-bench"))
KIND_CODES = {"legit": 0, "household": 1, "agency": 2, "ring": 3, "lone": 4}


def world_db(size: int, preset: str = "default", seed: int = 1, fresh: bool = False) -> tuple[Path, dict]:
    """The path of a loaded SQLite file of the world, and its truth columns (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"world-{preset}-{size}-{seed}.db"
    truth_path = CACHE / f"world-{preset}-{size}-{seed}.truth.npz"
    if fresh:
        for p in (db, truth_path):
            p.unlink(missing_ok=True)
    if db.exists() and truth_path.exists():
        t = np.load(truth_path, allow_pickle=False)
        return db, {k: t[k] for k in t.files}
    tmp_dir = Path(tempfile.mkdtemp(dir=CACHE))
    tmp_db = tmp_dir / "w.db"
    store = SQLiteStore(tmp_db)
    store.migrate()
    ids: list[str] = []
    kinds: list[int] = []
    groups: list[str] = []
    late: list[bool] = []
    started = time.perf_counter()

    def records():  # type: ignore[no-untyped-def]
        for r in generate(params_for(preset, accounts=size, seed=seed)):
            tr = r["truth"]
            ids.append(r["id"])
            kinds.append(KIND_CODES[tr["kind"]])
            groups.append(tr["group"] or "")
            late.append(bool(tr["late"]))
            yield r

    for _ in load_records(store, records(), batch_size=10_000):
        pass
    store.checkpoint()
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_db) + suffix).unlink(missing_ok=True)
    truth = {"id": np.array(ids), "kind": np.array(kinds, np.int8), "group": np.array(groups), "late": np.array(late)}
    np.savez(truth_path, **truth)
    shutil.move(tmp_db, db)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    print(f"generated+loaded {preset} world of {size:,} accounts in {time.perf_counter() - started:.0f}s -> {db}",
          flush=True)
    return db, truth


def working_copy(db: Path) -> Path:
    """A scratch copy of a cached world (sweeps write to it)."""
    out = Path(tempfile.mkdtemp(dir=CACHE)) / "g.db"
    shutil.copyfile(db, out)
    return out


def peak_rss_gb() -> float:
    from ringfence.core.usage import peak_rss_mb

    return peak_rss_mb() / 1024


def networkx_detect(g, threshold: float, hub_cap: int, min_size: int) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The detection step written plainly: networkx graph of account pairs weighted by what they
    share (same hub cap, benign list and weights), thresholded, connected components."""
    import math

    import networkx as nx

    holders: dict[int, list[str]] = {}
    for a, j in zip(g.e_acc.tolist(), g.e_id.tolist(), strict=True):
        holders.setdefault(j, []).append(g.account_ids[a])
    proj = nx.Graph()
    for j, accounts in holders.items():
        d = len(accounts)
        if d < 2 or d > hub_cap or g.benign[j]:
            continue
        w = 1.0 / math.log1p(d)
        for x in range(d):
            for y in range(x + 1, d):
                u, v = accounts[x], accounts[y]
                if proj.has_edge(u, v):
                    proj[u][v]["weight"] += w
                else:
                    proj.add_edge(u, v, weight=w)
    strong = nx.Graph()
    strong.add_edges_from((u, v) for u, v, w in proj.edges(data="weight") if w >= threshold)
    return sorted(sorted(c) for c in nx.connected_components(strong) if len(c) >= min_size)


def _sweeps(store, settings, second_sweep: bool = True) -> dict:  # type: ignore[no-untyped-def]
    from ringfence.services.sweeps import run_sweep

    started = time.perf_counter()
    first = run_sweep(store, settings)
    out: dict = {"first": {"seconds": round(time.perf_counter() - started, 1), "phases": first.stats["phases"],
                           "cpu": first.stats["cpu_phases"],
                           "rings": first.stats["rings"], "accounts": first.stats["accounts"],
                           "links": first.stats.get("links", first.stats.get("partition", {}).get("links", 0)),
                           "model": first.model_version}}
    if "partition" in first.stats:
        out["first"]["partition"] = first.stats["partition"]
    if second_sweep:
        started = time.perf_counter()
        second = run_sweep(store, settings)  # against the first: matching does real work
        out["second"] = {"seconds": round(time.perf_counter() - started, 1), "phases": second.stats["phases"],
                         "cpu": second.stats["cpu_phases"], "events": second.stats["events"]}
    out["peak_rss_gb"] = round(peak_rss_gb(), 2)
    return out


def one(size: int, preset: str, data_dir: Path, nx_compare: bool, shard_links: int = 0, second_sweep: bool = True
        ) -> dict:
    from ringfence.core.settings import Settings
    from ringfence.graph.detection import DetectionParams, detect, load_graph

    db, _ = world_db(size, preset)
    work = working_copy(db)
    settings = Settings(data_dir=data_dir, graph_url=f"sqlite:///{work}", sweep_shard_links=shard_links)
    store = SQLiteStore(work)
    out: dict = {"size": size, "preset": preset, "load_average": os.getloadavg()[0], "shard_links": shard_links}
    try:
        out.update(_sweeps(store, settings, second_sweep))
        if nx_compare:
            g = load_graph(store)
            p = DetectionParams.from_settings(settings, max_group=10**9)
            t = time.perf_counter()
            ours = sorted(grp.member_ids for grp in detect(g, p).groups)
            t_ours = time.perf_counter() - t
            t = time.perf_counter()
            plain = networkx_detect(g, p.threshold, p.hub_cap, p.min_ring_size)
            t_nx = time.perf_counter() - t
            out["networkx"] = {"ours_s": round(t_ours, 2), "networkx_s": round(t_nx, 2),
                               "ratio": round(t_nx / t_ours, 1), "same_groups": ours == plain}
    finally:
        store.close()
        shutil.rmtree(work.parent, ignore_errors=True)
    return out


def one_neo4j(size: int, preset: str, data_dir: Path, graph_url: str, fresh: bool, load_only: bool = False,
              second_sweep: bool = True, shard_links: int = 0) -> dict:
    """Sweeps on a Neo4j database holding the world (emptied first with `fresh`, loaded when empty)."""
    from ringfence.core.settings import Settings
    from ringfence.graph.factory import open_store

    settings = Settings(data_dir=data_dir, graph_url=graph_url, sweep_shard_links=shard_links)
    store = open_store(settings)
    out: dict = {"size": size, "preset": preset, "load_average": os.getloadavg()[0], "shard_links": shard_links}
    try:
        store.migrate()
        if fresh:
            store.reset()
        have = store.count_accounts()
        if have == 0:
            started = time.perf_counter()
            stats = None
            for stats in load_records(store, generate(params_for(preset, accounts=size, seed=1)),  # noqa: B007
                                      batch_size=5_000):
                pass
            took = time.perf_counter() - started
            assert stats is not None
            out["load"] = {"seconds": round(took, 1), "links": stats.links, "links_per_s": round(stats.links / took)}
        elif have != size:
            raise SystemExit(f"the Neo4j database holds {have:,} accounts, not {size:,}: use an empty one")
        if not load_only:
            out.update(_sweeps(store, settings, second_sweep))
    finally:
        store.close()
    return out


def one_celery(size: int, preset: str, data_dir: Path, shard_links: int, n_workers: int,
               graph_url: str | None = None) -> dict:
    """The sharded sweep as a Celery job on `n_workers` real worker processes (jobs queue), on
    a fresh copy of the cached SQLite world, or on the Neo4j database at `graph_url`."""
    import psutil

    from devservices.services import RedisServer
    from ringfence.core.settings import Settings
    from ringfence.graph.factory import open_store
    from ringfence.services.jobs import FINISHED, start_sweep
    from ringfence.workers.dispatch import CeleryDispatcher

    if graph_url is None:
        work = working_copy(world_db(size, preset)[0])
        graph_url = f"sqlite:///{work}"
    else:
        CACHE.mkdir(parents=True, exist_ok=True)  # the Neo4j world is the server's: nothing cached yet
        work = Path(tempfile.mkdtemp(dir=CACHE)) / "neo4j"
    redis = RedisServer(directory=work.parent / "redis").start()
    env = {**os.environ, "RINGFENCE_GRAPH_URL": graph_url, "RINGFENCE_BROKER_URL": redis.url,
           "RINGFENCE_DATA_DIR": str(data_dir), "RINGFENCE_SWEEP_SHARD_LINKS": str(shard_links)}
    procs: list[subprocess.Popen[bytes]] = []
    out: dict = {"size": size, "workers": n_workers, "load_average": os.getloadavg()[0]}
    try:
        for i in range(n_workers):
            with (work.parent / f"worker{i}.log").open("wb") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "ringfence.workers", "worker", "-Q", "jobs", "-c", "1",
                     "-n", f"jobs{i}@%h", "--max-tasks-per-child", "1", "--loglevel=INFO", "--without-gossip",
                     "--without-mingle"], env=env, stdout=log, stderr=subprocess.STDOUT,
                    cwd=Path(__file__).resolve().parents[1]))
        deadline = time.monotonic() + 180
        while not all(" ready." in (work.parent / f"worker{i}.log").read_text() for i in range(n_workers)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"workers did not start; logs in {work.parent}")
            time.sleep(0.5)
        settings = Settings(data_dir=data_dir, graph_url=graph_url, broker_url=redis.url,
                            sweep_shard_links=shard_links)
        store = open_store(settings)
        dispatcher = CeleryDispatcher(settings)
        tree_peak = [0] * n_workers
        started = time.perf_counter()
        job = start_sweep(store, settings, dispatcher, "bench")
        while (current := store.get_job(job.id)) is not None and current.status not in FINISHED:
            for i, p in enumerate(procs):
                try:
                    root = psutil.Process(p.pid)
                    tree = [root, *root.children(recursive=True)]
                    tree_peak[i] = max(tree_peak[i], sum(q.memory_full_info().pss for q in tree))
                except psutil.Error:
                    pass  # a pool process ended between listing and reading
            time.sleep(1.0)  # PSS reads (smaps_rollup) of GB-sized processes cost CPU: not too often
        wall = time.perf_counter() - started
        dispatcher.close()
        if current is None or current.status != "succeeded":
            raise SystemExit(f"the sharded sweep job failed: {current}; logs in {work.parent}")
        sweep = store.current_sweep()
        assert sweep is not None and sweep.sweep_id == current.result["sweep_id"]
        # build_result stamps the sweep's finished_at just before publication; the job ends after it
        publish_s = (current.finished_at - sweep.finished_at).total_seconds() if current.finished_at else -1.0
        out.update({"seconds": round(wall, 1), "stats": sweep.stats, "rings": len(store.current_rings()),
                    "publish_s": round(publish_s, 1),
                    "accounts": current.result["accounts"],
                    "worker_tree_peak_gb": [round(x / 2**30, 2) for x in tree_peak]})
        store.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        redis.stop()
        shutil.rmtree(work.parent, ignore_errors=True)
    return out


def _print_celery(r: dict) -> None:
    st = r["stats"]
    part, shards, fin = st["partition_figures"], st["shard_figures"], st["finish_figures"]
    print(f"  celery, {r['workers']} worker(s): {r['seconds']:.1f}s wall, {r['rings']:,} rings, "
          f"{r['accounts']:,} accounts (load average {r['load_average']:.1f})")
    pst = st["partition"]
    print(f"    partition {part['seconds']:.1f}s (cpu {part['cpu_s']:.1f}), coordinator peak "
          f"{part['peak_rss_mb'] / 1024:.2f} GB; {pst['links']:,} links, largest component "
          f"{pst['largest_component_accounts']:,} accounts / {pst['largest_component_links']:,} links, "
          f"oversize shards {pst['oversize_shards']}")
    print(f"    shards {shards['count']}: {shards['seconds_sum']:.1f}s (cpu {shards['cpu_s_sum']:.1f}s) in all, "
          f"slowest {shards['seconds_max']:.1f}s, "
          f"largest {shards['units_max']:,.0f} units, peak per shard task {shards['peak_rss_mb_max'] / 1024:.2f} GB")
    print(f"    finish {fin['seconds']:.1f}s before publication (cpu {fin['cpu_s']:.1f}), publication "
          f"{r['publish_s']:.1f}s, peak "
          f"{fin['peak_rss_mb'] / 1024:.2f} GB; worker process trees (PSS) at most {r['worker_tree_peak_gb']} GB")


def one_partition(size: int, preset: str, engine: str, shard_links: int, hub_cap: int) -> dict:
    """The partition step of a sharded sweep on the cached world, by `engine` ("store": the
    store's `write_components`; "arrays": the reference over `GraphArrays`)."""
    import hashlib

    from ringfence.core.usage import Usage, peak_rss_mb
    from ringfence.graph.partition import stream_partition

    db = CACHE / f"world-{preset}-{size}-1.db"  # built by partition_runs; its truth columns stay on disk
    store = SQLiteStore(db)
    store.migrate()  # a world cached by older code lacks the partition's table
    try:
        before = peak_rss_mb()
        usage = Usage()
        if engine == "store":
            table = store.write_components(hub_cap)
            part = table.partition(hub_cap, shard_links)
            ends = np.cumsum([len(s) for s in part.shards])
            accounts = np.add.reduceat(table.accounts, np.r_[0, ends[:-1]]) if len(ends) else ends
            stats, oversize = part.stats, part.oversize
        else:
            ref = stream_partition(store, hub_cap, shard_links)
            accounts = np.array([len(s) for s in ref.shards], dtype=np.int64)
            stats, oversize = ref.stats, ref.oversize
        figures = usage.figures()
    finally:
        store.close()
    digest = hashlib.sha256(np.asarray(accounts, dtype=np.int64).tobytes() + json.dumps(oversize).encode())
    return {"engine": engine, "size": size, "figures": figures, "rss_before_mb": before,
            "stats": stats, "digest": digest.hexdigest()[:16], "load_average": os.getloadavg()[0]}


def partition_runs(sizes: list[int], preset: str, shard_links: int) -> None:
    from ringfence.core.settings import Settings

    hub_cap = Settings().hub_cap
    for size in sizes:
        if not (CACHE / f"world-{preset}-{size}-1.db").exists():
            world_db(size, preset)  # Linux keeps a parent's peak RSS in a child's: load no truth when cached
        got = {}
        for engine in ("arrays", "store"):
            cmd = [sys.executable, __file__, "--one-partition", str(size), "--engine", engine, "--preset", preset,
                   "--shard-links", str(shard_links), "--hub-cap", str(hub_cap)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(proc.stdout[-2000:], proc.stderr[-4000:])
                raise SystemExit(f"partition bench failed at {size} ({engine})")
            got[engine] = r = json.loads(lines[-1][7:])
            f = r["figures"]
            print(f"sqlite accounts={size:>11,} partition by {engine:<6} {f['seconds']:7.1f}s  cpu {f['cpu_s']:7.1f}s  "
                  f"peak RSS {f['peak_rss_mb'] / 1024:5.2f} GB (after imports {r['rss_before_mb'] / 1024:.2f} GB)  "
                  f"shards {r['stats']['shards']}  load average {r['load_average']:.1f}", flush=True)
        a, s = got["arrays"]["figures"], got["store"]["figures"]
        same = all(got["arrays"][k] == got["store"][k] for k in ("digest", "stats"))
        print(f"  store / arrays: time x{s['seconds'] / a['seconds']:.2f}, cpu x{s['cpu_s'] / a['cpu_s']:.2f}, "
              f"peak RSS x{s['peak_rss_mb'] / a['peak_rss_mb']:.2f}; same shards: {same}", flush=True)


FINISH_SWEEP = "s-finish"  # the staged sweep of a --finish base


def finish_base(size: int, preset: str, shard_links: int, data_dir: Path) -> None:
    """A cached copy of the world on which a sharded sweep was published and the shards of a
    second one are staged (sweep id `FINISH_SWEEP`), unfinished: what a finishing task finds."""
    from ringfence.core.clock import utcnow
    from ringfence.core.settings import Settings
    from ringfence.gnn.score import current_scorer
    from ringfence.graph.detection import DetectionParams
    from ringfence.services.shards import check_shardable, encode, plan, run_shard
    from ringfence.services.sweeps import run_sweep

    base = CACHE / f"finish-{preset}-{size}-{shard_links}.db"
    meta_path = base.with_suffix(".json")
    db, _ = world_db(size, preset)
    work = working_copy(db)
    settings = Settings(graph_url=f"sqlite:///{work}", data_dir=data_dir, sweep_shard_links=shard_links)
    store = SQLiteStore(work)
    store.migrate()
    started = time.perf_counter()
    first = run_sweep(store, settings)
    scorer = check_shardable(current_scorer(settings))
    part = plan(store, settings)
    as_of = utcnow()
    for k, components in enumerate(part.shards):
        out = run_shard(store, settings, scorer, store.component_accounts(components.tolist()), as_of,
                        DetectionParams.from_settings(settings))
        store.stage_shard(FINISH_SWEEP, k, "done", encode(out))
    store.checkpoint()
    store.close()
    meta = {"n_shards": len(part.shards), "model": scorer.version, "started": as_of.isoformat(),
            "rings": len(first.rings)}
    meta_path.write_text(json.dumps(meta))
    shutil.move(work, base)  # last: a base without its meta is never taken as cached
    shutil.rmtree(work.parent, ignore_errors=True)
    print(f"finish base of {size:,} accounts: a sweep of {len(first.rings):,} rings published and "
          f"{len(part.shards)} shards staged in {time.perf_counter() - started:.0f}s -> {base}", flush=True)


def one_finish(copy: Path, meta: dict, arm: str) -> dict:
    """The finishing step on `copy` (a scratch copy of a finish base): "staged" is `shards.finish`
    (lineage a joined set of shards at a time, `services.staged_lineage`); "at-once" gathers every
    shard's rings and matches them together (`publish.build_result`, the single-process sweep's
    matching and session 19's finish), then publishes the same way."""
    import hashlib
    from datetime import datetime

    from ringfence.core.usage import Usage, peak_rss_mb
    from ringfence.services import shards
    from ringfence.services.publish import build_result

    store = SQLiteStore(copy)
    n, started = meta["n_shards"], datetime.fromisoformat(meta["started"])
    try:
        before = peak_rss_mb()
        usage = Usage()
        if arm == "at-once":
            drafts, accounts = [], 0
            for k in range(n):
                out = shards.staged_output(store, FINISH_SWEEP, k, risks=False)
                drafts.extend(out.drafts)
                accounts += int(out.stats["accounts"])
            result = build_result(store, drafts, shards.StagedRisks(store, FINISH_SWEEP, n, accounts),
                                  sweep_id=FINISH_SWEEP, started=started, model_version=meta["model"], stats={})
            matched = usage.figures()
            store.publish_sweep(result)
            store.drop_staged(FINISH_SWEEP)
        else:
            result = shards.finish(store, FINISH_SWEEP, n, started=started, model_version=meta["model"], stats={})
            matched = result.stats["finish_figures"]
        figures = usage.figures()
        digest = hashlib.sha256()
        for sql in ("SELECT ring_id, risk, size, created_at FROM rings WHERE sweep_id = ? ORDER BY ring_id",
                    "SELECT ring_id, account_id FROM ring_members WHERE sweep_id = ? ORDER BY ring_id, account_id",
                    "SELECT account_id, risk, ring_id FROM sweep_risks WHERE sweep_id = ? ORDER BY account_id",
                    "SELECT ring_id, event, size FROM ring_history WHERE sweep_id = ? ORDER BY ring_id, event"):
            digest.update(repr(store._read(sql, (FINISH_SWEEP,))).encode())
    finally:
        store.close()
    return {"arm": arm, "figures": figures, "match_s": matched["seconds"], "rss_before_mb": before,
            "rings": len(result.rings), "events": result.stats["events"], "digest": digest.hexdigest()[:16],
            "load_average": os.getloadavg()[0]}


def finish_runs(sizes: list[int], preset: str, shard_links: int, data_dir: Path) -> None:
    """Each size: the finish base (cached), then the two arms alternating (at-once, staged,
    staged, at-once), each in its own process on a fresh copy: a clean peak RSS each."""
    for size in sizes:
        base = CACHE / f"finish-{preset}-{size}-{shard_links}.db"
        if not base.exists():  # built in a process of its own: Linux keeps a parent's peak RSS in a child's
            subprocess.run([sys.executable, __file__, "--finish-base", str(size), "--shard-links", str(shard_links),
                            "--preset", preset, "--data-dir", str(data_dir)], check=True)
        meta = json.loads(base.with_suffix(".json").read_text())
        got: dict[str, list[dict]] = {"at-once": [], "staged": []}
        for arm in ("at-once", "staged", "staged", "at-once"):
            copy = working_copy(base)
            try:
                cmd = [sys.executable, __file__, "--one-finish", str(copy), "--engine", arm, "--meta", json.dumps(meta)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
            finally:
                shutil.rmtree(copy.parent, ignore_errors=True)
            lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(proc.stdout[-2000:], proc.stderr[-4000:])
                raise SystemExit(f"finish bench failed at {size} ({arm})")
            r = json.loads(lines[-1][7:])
            got[arm].append(r)
            f = r["figures"]
            print(f"sqlite accounts={size:>11,} finish {arm:<7} {f['seconds']:6.1f}s (matching {r['match_s']:.1f}s) "
                  f"cpu {f['cpu_s']:6.1f}s  peak RSS {f['peak_rss_mb'] / 1024:5.2f} GB (after imports "
                  f"{r['rss_before_mb'] / 1024:.2f} GB)  rings {r['rings']:,}  load average {r['load_average']:.1f}",
                  flush=True)

        med = {(arm, key): float(np.median([r["figures"][key] for r in rs]))
               for arm, rs in got.items() for key in ("seconds", "peak_rss_mb")}
        same = len({r["digest"] for rs in got.values() for r in rs}) == 1
        print(f"  {meta['n_shards']} shards, {meta['rings']:,} rings, model {meta['model']}; staged / at-once "
              f"(medians): time x{med['staged', 'seconds'] / med['at-once', 'seconds']:.2f}, peak RSS "
              f"x{med['staged', 'peak_rss_mb'] / med['at-once', 'peak_rss_mb']:.2f}; the same publication: "
              f"{same}", flush=True)


def _phases(p: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.1f}" for k, v in p.items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data-dir", default=str(CACHE / "data"), help="where the active model is")
    parser.add_argument("--backend", choices=("sqlite", "neo4j"), default="sqlite")
    parser.add_argument("--graph-url", help="with --backend neo4j: the server's URL")
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached world (neo4j: empty the database)")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--no-nx", action="store_true")
    parser.add_argument("--one-sweep", action="store_true", help="neo4j: skip the second sweep")
    parser.add_argument("--sharded", type=int, default=0, metavar="LINKS",
                        help="also sweep in shards of about LINKS links (in process); print both")
    parser.add_argument("--workers", default="", metavar="N,..",
                        help="with --sharded: also run the sharded sweep on N real Celery workers (each N)")
    parser.add_argument("--workers-only", action="store_true",
                        help="with --workers: only the Celery runs (sizes one process cannot sweep)")
    parser.add_argument("--partition", type=int, default=0, metavar="LINKS",
                        help="only the partition step, by the store and by GraphArrays (embedded store)")
    parser.add_argument("--finish", type=int, default=0, metavar="LINKS",
                        help="only the finishing step of a sharded sweep (shards of about LINKS links), its lineage "
                             "a few shards at a time against every ring at once (embedded store)")
    parser.add_argument("--one-finish", help=argparse.SUPPRESS)
    parser.add_argument("--finish-base", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--meta", help=argparse.SUPPRESS)
    parser.add_argument("--shard-links", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-partition", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", choices=("store", "arrays", "at-once", "staged"), help=argparse.SUPPRESS)
    parser.add_argument("--hub-cap", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_partition:
        print("RESULT " + json.dumps(one_partition(args.one_partition, args.preset, args.engine, args.shard_links,
                                                   args.hub_cap)), flush=True)
        return
    if args.partition:
        partition_runs([int(x) for x in args.sizes.split(",")], args.preset, args.partition)
        return
    if args.finish_base:
        finish_base(args.finish_base, args.preset, args.shard_links, Path(args.data_dir))
        return
    if args.one_finish:
        print("RESULT " + json.dumps(one_finish(Path(args.one_finish), json.loads(args.meta), args.engine)), flush=True)
        return
    if args.finish:
        finish_runs([int(x) for x in args.sizes.split(",")], args.preset, args.finish, Path(args.data_dir))
        return
    warnings.filterwarnings("ignore", message="Sparse", category=UserWarning)  # torch, in gnn.graphdata
    if args.backend == "neo4j" and not args.graph_url:
        parser.error("--backend neo4j needs --graph-url")
    if args.workers and not args.sharded:
        parser.error("--workers needs --sharded")
    if args.workers_only and not args.workers:
        parser.error("--workers-only needs --workers")
    if args.one:
        if args.backend == "neo4j":
            r = one_neo4j(args.one, args.preset, Path(args.data_dir), args.graph_url, args.fresh, args.prepare_only,
                          not args.one_sweep, args.shard_links)
        else:
            r = one(args.one, args.preset, Path(args.data_dir), not args.no_nx, args.shard_links, not args.one_sweep)
        print("RESULT " + json.dumps(r), flush=True)
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    runs = [(size, links) for size in map(int, args.sizes.split(","))
            for links in ([0, args.sharded] if args.sharded else [0])]
    baseline: dict[int, dict] = {}
    if args.workers_only:
        for size in map(int, args.sizes.split(",")):
            for n_workers in map(int, args.workers.split(",")):
                print(f"{args.backend} accounts={size:>9,} sharded, {args.sharded:,} units per shard", flush=True)
                _print_celery(one_celery(size, args.preset, Path(args.data_dir), args.sharded, n_workers,
                                         args.graph_url))
                sys.stdout.flush()
        return
    for size, links in runs:
        if args.backend == "sqlite":
            world_db(size, args.preset, fresh=args.fresh)
            if args.prepare_only:
                continue
        # One process per size: a clean peak-memory figure.
        cmd = [sys.executable, __file__, "--one", str(size), "--preset", args.preset, "--data-dir", args.data_dir,
               "--backend", args.backend]
        if args.graph_url:
            cmd += ["--graph-url", args.graph_url]
        if args.no_nx or size > 200_000:
            cmd.append("--no-nx")
        if args.fresh and args.backend == "neo4j":
            cmd.append("--fresh")
        if args.prepare_only:  # neo4j: load the world into the database, no sweep
            cmd.append("--prepare-only")
        if args.one_sweep:
            cmd.append("--one-sweep")
        if links:
            cmd += ["--shard-links", str(links), "--no-nx"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            raise SystemExit(f"sweep bench failed at {size}")
        r = json.loads(lines[-1][7:])
        if "load" in r:
            print(f"{args.backend} accounts={size:>9,}: world loaded in {r['load']['seconds']:.1f}s "
                  f"({r['load']['links']:,} links, {r['load']['links_per_s']:,} links/s)", flush=True)
        if args.prepare_only:
            continue
        f = r["first"]
        print(f"{args.backend} accounts={size:>9,} links={f['links']:>10,} rings={f['rings']:>6,} model={f['model']} "
              f"(load average {r['load_average']:.1f})")
        print(f"  first sweep  {f['seconds']:6.1f}s  phases {_phases(f['phases'])}  (cpu {_phases(f['cpu'])})")
        if "second" in r:
            s2 = r["second"]
            print(f"  second sweep {s2['seconds']:6.1f}s  phases {_phases(s2['phases'])}  (cpu {_phases(s2['cpu'])})"
                  f"  events {s2['events']}")
        print(f"  peak memory {r['peak_rss_gb']:.2f} GB" + (f"  (sharded, {links:,} links per shard)" if links else ""))
        if "partition" in f:
            print(f"  partition {f['partition']}")
        if links and size in baseline:
            b = baseline[size]
            print(f"  sharded / single-process: time x{f['seconds'] / b['first']['seconds']:.2f}, "
                  f"peak memory x{r['peak_rss_gb'] / b['peak_rss_gb']:.2f}")
        if not links:
            baseline[size] = r
        if "networkx" in r:
            n = r["networkx"]
            print(f"  detection step: ours {n['ours_s']:.2f}s, networkx {n['networkx_s']:.2f}s "
                  f"(x{n['ratio']}), same groups: {n['same_groups']}")
        if links and args.workers:
            for n_workers in map(int, args.workers.split(",")):
                c = one_celery(size, args.preset, Path(args.data_dir), links, n_workers, args.graph_url)
                _print_celery(c)
                if c["rings"] != f["rings"] or c["accounts"] != f["accounts"]:
                    raise SystemExit(f"celery sweep published {c['rings']} rings / {c['accounts']} accounts, "
                                     f"in process {f['rings']} / {f['accounts']}")
                sys.stdout.flush()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
