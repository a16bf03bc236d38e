"""All settings, from `RINGFENCE_*` environment variables, in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCOPES = ("score", "investigate", "label", "admin")


class Settings(BaseSettings):
    # A bad value must not print the value: API keys, and passwords inside graph URLs.
    model_config = SettingsConfigDict(env_prefix="RINGFENCE_", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = Path("./data")
    graph_url: str = ""
    neo4j_database: str = "neo4j"
    # How long the driver retries a transaction that meets an unavailable Neo4j before the
    # caller sees StoreUnavailable (an API request: 503). Workers retry tasks on their own, so
    # an API deployment can set this low (1 s) to answer 503 promptly while Neo4j is down.
    neo4j_retry_time_s: float = Field(default=5.0, gt=0)
    broker_url: str | None = None
    api_keys: SecretStr = SecretStr("")  # never in a repr or a log line
    environment: str = "development"
    # Signs pagination cursors (api.pagination). Unset, a key is derived from RINGFENCE_API_KEYS,
    # which every replica shares; set it to sign cursors with a secret of their own.
    cursor_secret: SecretStr = SecretStr("")
    # Hub identifiers above this many accounts link nobody in ring detection and are
    # expanded only this far when extracting subgraphs.
    hub_cap: int = Field(default=200, ge=2)
    min_ring_size: int = Field(default=3, ge=2)
    # The HTTP edge (api.server, api.middleware): a request's headers and its body each have this
    # long to arrive; failed authentications are throttled per client address.
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=30.0, gt=0)
    auth_failures_per_s: float = Field(default=5.0, gt=0)
    auth_failures_burst: int = Field(default=20, ge=1)
    sweep_interval_s: int = Field(default=3600, ge=60)
    # The TTL of the sweep lock and of each running job's lock, renewed every third of it while
    # the owner lives (services.jobs.Heartbeat): a killed worker's sweep blocks the next for at most this.
    sweep_lock_ttl_s: int = Field(default=30, ge=3)
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    seed: int = 7
    # Train `MonotoneRingGNN` (no account added later can lower another's risk, by construction);
    # false: the earlier `RingGNN`, which one added account can move either way (BENCHMARKS.md, #13).
    train_presence_monotone: bool = True
    # Celery: see workers/app.py (WorkerLimits) for how these three fit together.
    score_time_limit_s: float = Field(default=30.0, gt=1)
    job_time_limit_s: float | None = Field(default=None, gt=1)
    broker_visibility_timeout_s: float | None = Field(default=None, gt=1)
    # The safety net under the broker (services.scoring.rescore_due, run by the beat): every
    # interval, scores requested more than `rescore_after_s` ago and still unwritten are queued again.
    rescore_interval_s: float = Field(default=60.0, gt=0)
    rescore_after_s: float = Field(default=300.0, gt=0)
    rescore_batch: int = Field(default=1000, ge=1)
    # A worker that consumes only long jobs runs at this niceness with one torch thread
    # (workers.app._yield_cpu_to_online_work explains why).
    jobs_worker_nice: int = Field(default=10, ge=0, le=19)
    # Sharded sweeps (services.shards): 0 keeps the single-process sweep; N > 0 packs the
    # ring-detection components into shards of about N links (+ accounts) and sweeps them one by
    # one (embedded) or as one Celery task each (with a broker).
    sweep_shard_links: int = Field(default=0, ge=0)
    # The partition's connected components: "gds" (Neo4j GDS WCC, an error if absent), "stream"
    # (union-find over streamed links, any backend) or "auto" (GDS when the server has it).
    sweep_partition: Literal["auto", "gds", "stream"] = "auto"
    # How many times a shard task runs before its sweep fails (transient store errors, crashes).
    sweep_shard_attempts: int = Field(default=3, ge=1)

    @field_validator("graph_url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        if v and urlsplit(v).scheme not in ("sqlite", "neo4j", "bolt", "neo4j+s", "bolt+s"):
            raise ValueError("RINGFENCE_GRAPH_URL must be sqlite:///path, neo4j://... or bolt://...")
        return v

    @field_validator("api_keys")
    @classmethod
    def _parse_keys(cls, v: SecretStr) -> SecretStr:
        for key, scopes in _split_keys(v.get_secret_value()):
            unknown = set(scopes) - set(SCOPES)
            if unknown or not key:
                raise ValueError(f"RINGFENCE_API_KEYS: bad entry (scopes {sorted(unknown)})")
        return v

    @property
    def effective_graph_url(self) -> str:
        return self.graph_url or f"sqlite:///{self.data_dir / 'ringfence.db'}"

    @property
    def backend(self) -> str:
        return "sqlite" if self.effective_graph_url.startswith("sqlite") else "neo4j"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.effective_graph_url.removeprefix("sqlite:///").removeprefix("sqlite://"))

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    def key_scopes(self) -> dict[str, frozenset[str]]:
        return {key: frozenset(scopes) for key, scopes in _split_keys(self.api_keys.get_secret_value())}


def _split_keys(raw: str) -> list[tuple[str, list[str]]]:
    out = []
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        key, _, scopes = entry.partition(":")
        out.append((key.strip(), [s.strip() for s in scopes.split("+") if s.strip()]))
    return out


@lru_cache
def get_settings() -> Settings:
    return Settings()
