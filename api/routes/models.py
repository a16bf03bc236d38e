"""Model versions: list them with metrics, activate one (roll forward or back)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import RequireAdmin, SettingsDep
from api.errors import responses
from api.schemas import ActiveModel, ModelInfo, ModelsPublic
from gnn import registry as registry_module
from graph.errors import NotFound
from graph.model import parse_ts
from graph.validation import ID_PATTERN
from ringfence.settings import Settings

router = APIRouter(prefix="/v1/models", tags=["models"])
# The registry class is `Registry`; `ModelRegistry` is the name the API was specified against.
_Registry: Any = getattr(registry_module, "ModelRegistry", None) or registry_module.Registry


def _info(registry: Any, entry: Any) -> ModelInfo:
    if isinstance(entry, str):
        meta = registry.meta(entry)
        version, created, metrics = entry, meta.get("created_at"), meta.get("metrics")
    else:
        version, created, metrics = entry.version, entry.created_at, entry.metrics
    try:
        created_at = parse_ts(created) if created else None
    except ValueError:
        created_at = None
    return ModelInfo(version=version, created_at=created_at, metrics=dict(metrics or {}))


def _registry(settings: Settings) -> Any:
    return _Registry(settings.models_dir)


# 422 too: every guard refuses an undeclared query parameter or a card number in the URL.
@router.get("", dependencies=[RequireAdmin], responses=responses(401, 403, 422, 429, 503))
def list_models(settings: SettingsDep) -> ModelsPublic:
    registry = _registry(settings)
    return ModelsPublic(active=registry.active_version(), models=[_info(registry, v) for v in registry.list()])


@router.post("/{version}/activate", dependencies=[RequireAdmin], responses=responses(401, 403, 404, 422, 429, 503))
def activate(version: Annotated[str, Path(pattern=ID_PATTERN)], settings: SettingsDep) -> ActiveModel:
    registry = _registry(settings)
    if version not in [v if isinstance(v, str) else v.version for v in registry.list()]:
        raise NotFound(f"model version {version} not found")
    registry.activate(version)
    return ActiveModel(active=version)
