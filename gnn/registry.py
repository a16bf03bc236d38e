"""Model registry: immutable versions under `models_dir/<version>/`, one active pointer.

A version directory holds
- `weights.safetensors`: the GNN's tensors (safetensors: nothing is ever unpickled);
- `model.json`: feature schema, hyper-parameters, metrics, data statistics, created_at, the
  SHA-256 of the weights file, and optional text parts (LightGBM boosters as text for a hybrid).

`ACTIVE` (a small text file naming the version) is switched atomically: write a temp file,
then `os.replace`. Rollback is activating an older version. Versions sort by creation time:
`m20261129T101500-1a2b3c`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ringfence.core.clock import utcnow
from ringfence.core.errors import InvalidInput, NotFound
from ringfence.graph.model import to_rfc3339

WEIGHTS = "weights.safetensors"
META = "model.json"
ACTIVE = "ACTIVE"


@dataclass
class ModelBundle:
    version: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


def new_version(now: datetime | None = None) -> str:
    return f"m{(now or utcnow()).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Registry:
    def __init__(self, models_dir: Path) -> None:
        self.root = Path(models_dir)

    @property
    def pointer(self) -> Path:
        return self.root / ACTIVE

    def save(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], version: str | None = None) -> str:
        """Write a new immutable version (not activated); returns its name."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = version or new_version()
        final = self.root / version
        if final.exists():
            raise InvalidInput(f"model version {version} exists already")
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=self.root))
        save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS))
        meta = {**meta, "version": version, "created_at": meta.get("created_at") or to_rfc3339(utcnow()),
                "weights_sha256": _sha256(tmp / WEIGHTS)}
        (tmp / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
        os.replace(tmp, final)  # the version appears complete or not at all
        return version

    def list(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / META).exists() and p.name[0] == "m")

    def active_version(self) -> str | None:
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    def activate(self, version: str) -> None:
        if version not in self.list():
            raise NotFound(f"model version {version} not found")
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ACTIVE-", dir=self.root)
        with os.fdopen(fd, "w") as f:
            f.write(version + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.pointer)

    def rollback(self) -> str:
        """Activate the version created just before the active one; returns it."""
        versions = self.list()
        current = self.active_version()
        older = [v for v in versions if current is None or v < current]
        if not older:
            raise NotFound("no older model version to roll back to")
        self.activate(older[-1])
        return older[-1]

    def meta(self, version: str) -> dict[str, Any]:
        path = self.root / version / META
        if not path.is_file() or "/" in version or version.startswith("."):
            raise NotFound(f"model version {version} not found")
        return json.loads(path.read_text())  # type: ignore[no-any-return]

    def load(self, version: str) -> ModelBundle:
        """Verify the checksum, then read tensors with safetensors (no pickle anywhere)."""
        meta = self.meta(version)
        weights = self.root / version / WEIGHTS
        if not weights.is_file() or _sha256(weights) != meta.get("weights_sha256"):
            raise InvalidInput(f"model version {version}: weights checksum mismatch")
        return ModelBundle(version, load_file(str(weights)), meta)
