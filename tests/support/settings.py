"""API keys per scope and the `Settings` the tests run the API with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ringfence.core.settings import Settings

KEYS = {"admin": "adm_k3y", "score": "sco_k3y", "investigate": "inv_k3y", "label": "lab_k3y"}
API_KEYS = ",".join(f"{key}:{scope}" for scope, key in KEYS.items())
ADMIN_KEY, SCORE_KEY = KEYS["admin"], KEYS["score"]


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


ADMIN = auth("admin")


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """An embedded store in `tmp_path`, every test key, and no rate limit (nor failed-authentication
    throttle) to speak of."""
    values: dict[str, Any] = {
        "data_dir": tmp_path, "api_keys": API_KEYS, "rate_limit_per_s": 1e6, "rate_limit_burst": 1_000_000,
        "auth_failures_per_s": 1e6, "auth_failures_burst": 1_000_000,
        "graph_url": "", "broker_url": None,
    }
    values.update(overrides)
    return Settings(**values)


def worker_env(redis_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of worker, beat and API processes sharing one SQLite store and broker."""
    return {
        "RINGFENCE_BROKER_URL": redis_url,
        "RINGFENCE_DATA_DIR": str(tmp / "data"),
        "RINGFENCE_GRAPH_URL": f"sqlite:///{tmp / 'graph.db'}",
        **extra,
    }
