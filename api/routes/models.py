"""Model versions: list them with metrics, activate one (roll forward or back)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ringfence.api.deps import RequireAdmin, SettingsDep
from ringfence.api.errors import responses
from ringfence.api.schemas import ActiveModel, ModelInfo, ModelsPublic
from ringfence.gnn.registry import Registry
from ringfence.graph.model import parse_ts
from ringfence.graph.validation import ID_PATTERN

router = APIRouter(prefix="/v1/models", tags=["models"])


def _info(registry: Registry, version: str) -> ModelInfo:
    meta = registry.meta(version)
    created = meta.get("created_at")
    try:
        created_at = parse_ts(created) if isinstance(created, str) else None
    except ValueError:  # a hand-edited meta.json must not fail the whole listing
        created_at = None
    return ModelInfo(version=version, created_at=created_at, metrics=dict(meta.get("metrics") or {}))


# 422 too: every guard refuses an undeclared query parameter or a card number in the URL.
@router.get("", dependencies=[RequireAdmin], responses=responses(401, 403, 422, 429, 503))
def list_models(settings: SettingsDep) -> ModelsPublic:
    registry = Registry(settings.models_dir)
    return ModelsPublic(active=registry.active_version(), models=[_info(registry, v) for v in registry.list()])


@router.post("/{version}/activate", dependencies=[RequireAdmin], responses=responses(401, 403, 404, 422, 429, 503))
def activate(version: Annotated[str, Path(pattern=ID_PATTERN)], settings: SettingsDep) -> ActiveModel:
    Registry(settings.models_dir).activate(version)  # NotFound for a version it does not hold
    return ActiveModel(active=version)
