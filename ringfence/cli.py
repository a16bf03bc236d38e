"""The `ringfence` command. Heavy imports stay inside commands so `--help` is instant."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ringfence.core.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fraud-ring detection service.")
err = Console(stderr=True)


def _store():  # type: ignore[no-untyped-def]
    from ringfence.graph.factory import open_store

    return open_store(get_settings())


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


@app.command()
def generate(
    accounts: Annotated[int, typer.Option(help="accounts in the world")] = 100_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    preset: Annotated[str, typer.Option(help="'default' or 'second' (other generator parameters)")] = "default",
    out: Annotated[Path | None, typer.Option(help="file to write; stdout when omitted")] = None,
) -> None:
    """Write a synthetic world as JSON lines (the input of `ringfence load`)."""
    from ringfence.graph.synthetic import params_for, write_jsonl

    params = params_for(preset, accounts=accounts, seed=seed)
    if out is None:
        write_jsonl(params, sys.stdout)
    else:
        with out.open("w") as fh:
            n = write_jsonl(params, fh)
        err.print(f"wrote {n} accounts to {out}")


@app.command()
def load(
    path: Annotated[str, typer.Argument(help="JSON-lines file, or - for stdin")] = "-",
    batch_size: Annotated[int, typer.Option(help="accounts per all-or-nothing batch")] = 5_000,
    bulk: Annotated[bool, typer.Option(
        "--bulk", help="first load into an EMPTY Neo4j database: write neo4j-admin import files to --bulk-dir "
        "and print the import command; run it with the database stopped, start it, then --bulk-finish")] = False,
    bulk_finish: Annotated[bool, typer.Option(
        "--bulk-finish", help="after the import: constraints and indexes (reads --bulk-dir)")] = False,
    bulk_dir: Annotated[Path, typer.Option(help="where --bulk writes the import files")] = Path("data/bulk-import"),
) -> None:
    """Upsert accounts, links and labels from JSON lines; loading the same file twice changes nothing."""
    if bulk or bulk_finish:
        from ringfence.core.errors import InvalidInput

        try:
            _load_bulk(path, bulk_dir, batch_size, finish=bulk_finish)
        except InvalidInput as exc:
            err.print(f"ringfence load: {exc}")
            raise typer.Exit(2) from exc
        return
    from ringfence.graph.loader import load_records, read_jsonl

    store = _store()
    started = time.perf_counter()
    fh = sys.stdin if path == "-" else open(path)  # noqa: SIM115 - closed below
    stats = None
    try:
        with _progress() as progress:
            task = progress.add_task("loading accounts", total=None)
            for stats in load_records(store, read_jsonl(fh), batch_size=batch_size):
                progress.update(task, completed=stats.accounts)
    finally:
        if fh is not sys.stdin:
            fh.close()
        store.close()
    took = time.perf_counter() - started
    if stats is None:
        err.print("nothing to load")
        return
    err.print(
        f"loaded {stats.accounts} accounts, {stats.links} links, {stats.labels} labels into "
        f"{get_settings().backend} in {took:.1f}s ({stats.links / max(took, 1e-9):,.0f} links/s)"
    )


def _load_bulk(path: str, directory: Path, batch_size: int, finish: bool) -> None:
    from ringfence.core.errors import InvalidInput
    from ringfence.graph import neo4j_bulk
    from ringfence.graph.neo4j_store import Neo4jStore

    store = _store()
    try:
        if not isinstance(store, Neo4jStore):
            raise InvalidInput("--bulk loads a Neo4j database (RINGFENCE_GRAPH_URL=neo4j://...)")
        started = time.perf_counter()
        if finish:
            plan = neo4j_bulk.ImportPlan.load(directory)
            neo4j_bulk.finish_import(store, plan)
            err.print(f"finished the import of {plan.accounts} accounts, {plan.links} links, {plan.labels} labels: "
                      f"constraints and indexes in {time.perf_counter() - started:.1f}s")
            return
        if store.holds_data():
            raise InvalidInput("--bulk is for the first load into an empty database, and this one holds data: "
                               "load with `ringfence load` (without --bulk), or empty the database first")
        with sys.stdin.buffer if path == "-" else open(path, "rb") as fh:
            plan = neo4j_bulk.write_import_files(fh, directory, batch_size, store.config.database)
        err.print(f"wrote {plan.accounts} accounts, {plan.identifiers} identifiers, {plan.links} links to "
                  f"{plan.directory} in {time.perf_counter() - started:.1f}s. Now stop the database, run\n"
                  f"  neo4j-admin @{plan.directory / neo4j_bulk.ARGS_FILE}\n"
                  f"start it, and run `ringfence load --bulk-finish --bulk-dir {directory}`.")
    finally:
        store.close()


@app.command()
def train(seed: Annotated[int | None, typer.Option(help="training seed")] = None) -> None:
    """Train on the current labels, print the metrics table, and activate the new model."""
    from ringfence.gnn.train import train as run_training

    settings = get_settings()
    store = _store()
    try:
        report = run_training(store, settings, seed=settings.seed if seed is None else seed)
    finally:
        store.close()
    typer.echo(report.format_table())
    typer.echo(f"active model: {report.version}")


@app.command()
def sweep() -> None:
    """Run one full sweep: detect rings, score everything, publish atomically."""
    from ringfence.services.sweeps import run_sweep

    store = _store()
    try:
        result = run_sweep(store, get_settings())
    finally:
        store.close()
    typer.echo(json.dumps({"sweep_id": result.sweep_id, **result.stats}, indent=2, default=str))


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from ringfence.api.server import serve_options

    uvicorn.run("ringfence.api.app:create_app", factory=True, host=host, port=port, workers=workers, **serve_options())


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="comma-separated: online, jobs")] = "online,jobs",
    concurrency: Annotated[int, typer.Option()] = 1,
) -> None:
    """Start a Celery worker (needs RINGFENCE_BROKER_URL)."""
    from ringfence.workers.app import run_worker

    run_worker(queues.split(","), concurrency)


@app.command()
def beat() -> None:
    """Start the Celery beat scheduler: periodic sweeps, and re-queueing of lost scores."""
    from ringfence.workers.app import run_beat

    run_beat()


@app.command()
def demo(
    accounts: Annotated[int, typer.Option(help="accounts in the demo world")] = 20_000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """`make run`: a demo world, a trained model and a sweep, then the API."""
    from ringfence.gnn.train import train as run_training
    from ringfence.graph.loader import load_records
    from ringfence.graph.synthetic import generate as generate_world
    from ringfence.graph.synthetic import params_for
    from ringfence.services.sweeps import run_sweep

    settings = get_settings()
    keys = settings.api_keys.get_secret_value() or _demo_keys(settings.data_dir)
    os.environ["RINGFENCE_API_KEYS"] = keys
    get_settings.cache_clear()
    settings = get_settings()
    store = _store()
    try:
        if store.count_accounts() == 0:
            with _progress() as progress:
                task = progress.add_task(f"demo world ({settings.backend})", total=accounts)
                for stats in load_records(store, generate_world(params_for("default", accounts=accounts, seed=1))):
                    progress.update(task, completed=stats.accounts)
        else:
            err.print(f"store has {store.count_accounts():,} accounts already: keeping them")
        with _progress() as progress:
            step = _staged(progress, "training (GNN and baselines)", _TRAIN_STAGES)
            report = run_training(store, settings, seed=settings.seed, progress=step)
            step("done", 1.0)  # early stopping ends the epochs before the bar's end
        err.print(report.format_table())
        with _progress() as progress:
            step = _staged(progress, "sweep (detect, score, publish)")
            result = run_sweep(store, settings, progress=step)
            step("done", 1.0)
        err.print(f"sweep {result.sweep_id}: {result.stats.get('rings', '?')} rings")
        example_ring = store.list_rings(None, None, 1).data
    finally:
        store.close()
    admin = next(k for k, s in settings.key_scopes().items() if "admin" in s)
    ring = example_ring[0].id if example_ring else "<ring id>"
    base = f"http://{host}:{port}"
    # Plain prints: a console that wraps long lines would break the commands for copy-paste.
    out = sys.stderr
    print(f"\nringfence is ready on {base}  (docs: {base}/docs)\n"
          f"investigator page: {base}/ui/  (paste the admin key)\nadmin key: {admin}\n", file=out)
    print("score a new account that joins a ring:", file=out)
    print(_curl_score(base, admin, ring, settings), file=out)
    print("\nlist the riskiest rings:", file=out)
    print(f"  curl -s -H 'Authorization: Bearer {admin}' '{base}/v1/rings?limit=5'", file=out)
    print("\nopen one:", file=out)
    print(f"  curl -s -H 'Authorization: Bearer {admin}' '{base}/v1/rings/{ring}'\n", file=out, flush=True)
    if serve_api:
        with _demo_worker(settings.broker_url):
            serve(host=host, port=port, workers=1)


# Where each training stage ends on the demo's bar; the GNN's epochs fill the rest.
_TRAIN_STAGES = {"load": (0.0, 0.1), "baselines": (0.1, 0.3), "gnn": (0.3, 1.0)}


def _staged(progress: Progress, title: str, stages: dict[str, tuple[float, float]] | None = None
            ) -> Callable[[str, float], None]:
    """A `(stage, fraction)` callback that drives one bar of `progress` (percent).

    Without `stages` the fraction is the whole job's; with them, each stage fills its span."""
    task = progress.add_task(title, total=100)

    def update(stage: str, fraction: float) -> None:
        start, end = (stages or {}).get(stage, (0.0, 1.0))
        progress.update(task, completed=100 * (start + (end - start) * fraction), description=f"{title}: {stage}")

    return update


@contextmanager
def _demo_worker(broker_url: str | None) -> Iterator[None]:
    """With a broker, a Celery worker next to the API, so that `score=async`, sweeps and training
    started over HTTP run; it stops with the demo. Embedded mode runs them in the API process."""
    if not broker_url:
        yield
        return
    err.print("starting a worker for the broker's queues (online, jobs)")
    proc = subprocess.Popen([sys.executable, "-m", "ringfence.cli", "worker"])
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _curl_score(base: str, key: str, ring_id: str, settings: object) -> str:
    from ringfence.graph.factory import open_store

    store = open_store(get_settings())
    try:
        ring = store.get_ring(ring_id)
        shared = ring.identifiers[0] if ring and ring.identifiers else None
    finally:
        store.close()
    link = f'{{"type": "{shared.type}", "id": "{shared.id}"}}' if shared else '{"type": "device", "id": "dev-demo"}'
    body = f'{{"id": "newcomer-1", "attributes": {{"country": "DE"}}, "links": [{link}]}}'
    return (
        f"  curl -s -X POST -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"    '{base}/v1/accounts?score=sync' -d '{body}'"
    )


def _demo_keys(data_dir: Path) -> str:
    """A random admin key per machine, kept in the data dir so restarts keep working."""
    path = data_dir / "demo-api-keys"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"adm_{secrets.token_urlsafe(18)}:admin,onb_{secrets.token_urlsafe(18)}:score\n")
        path.chmod(0o600)
    return path.read_text().strip()


if __name__ == "__main__":
    app()
