"""Model registry: immutable versions under `models_dir/<version>/`, one active pointer.

A version directory holds
- `weights.safetensors`: the GNN's tensors (safetensors: nothing is ever unpickled);
- `model.json`: feature schema, hyper-parameters, metrics, data statistics, created_at, the
  SHA-256 of the weights file, and optional text parts (LightGBM boosters as text for a hybrid);
- `MANIFEST.json`: the SHA-256 of every other file of the version. Every load checks the whole
  version against it (a file changed, missing or added: `ModelUnavailable`, 503), so editing the
  booster or `kind` in `model.json` is caught, not only a change to the weights.

Activation verifies the version, then loads it and scores a probe graph in a child process
(`probe_in_child`) before it moves the pointer: a model that makes LightGBM abort kills the
child, not the service, and is refused (`ModelRejected`, 409). Children fork from a
multiprocessing forkserver that has imported the scoring code once (a fresh interpreter spends
seconds importing torch for every activation; a fork of the serving process would inherit its
OpenMP threads, which do not survive a fork). Celery's pool processes are daemonic, and
multiprocessing gives a daemonic process no children: there the child is a fresh interpreter
(`python -m ringfence.gnn.registry`). At start-up
(`fall_back_if_broken`) an active version that fails verification is refused with one log
line, the newest older version that verifies (or, with none, the heuristic) becomes active,
and `REFUSED.json` records it for /readyz and /metrics.

`ACTIVE` (a small text file naming the version) is switched atomically: write a temp file,
then `os.replace`. Rollback is activating an older version. Versions sort by creation time:
`m20261129T101500-1a2b3c`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ringfence.core.clock import utcnow
from ringfence.core.errors import InvalidInput, ModelRejected, ModelUnavailable, NotFound
from ringfence.graph.model import to_rfc3339

log = logging.getLogger(__name__)
WEIGHTS = "weights.safetensors"
META = "model.json"
MANIFEST = "MANIFEST.json"
ACTIVE = "ACTIVE"
REFUSED = "REFUSED.json"
PROBE_TIMEOUT_S = 300.0
# what the probe's forkserver imports once, before it forks any child
PROBE_PRELOAD = ["ringfence.gnn.registry", "ringfence.gnn.score", "ringfence.graph.sqlite_store"]
Probe = Callable[[Path, str], None]


@dataclass
class ModelBundle:
    version: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


@dataclass(frozen=True)
class ModelHealth:
    version: str  # the active version, or "heuristic"
    state: str  # "serving", "fallback" (a start-up refusal is in force) or "broken"
    problem: str | None


def new_version(now: datetime | None = None) -> str:
    return f"m{(now or utcnow()).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(directory: Path) -> dict[str, str]:
    """The SHA-256 of every file in a version directory but the manifest."""
    return {p.name: _sha256(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST}


def probe_in_child(root: Path, version: str) -> None:
    """Load `version` and score a probe graph in a child process (forked from the probe's
    forkserver); `ModelRejected` if the child fails, crashes or aborts."""
    if multiprocessing.current_process().daemon:  # a Celery pool process
        _probe_in_interpreter(root, version)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PROBE_PRELOAD)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_probe_child, args=(str(root), version, send), name=f"model-probe-{version}")
    child.start()
    send.close()
    child.join(PROBE_TIMEOUT_S)
    if child.is_alive():
        child.kill()
        child.join()
        raise ModelRejected(f"model version {version}: the probe did not finish in {PROBE_TIMEOUT_S:.0f}s")
    code = child.exitcode
    try:
        problem = receive.recv() if code != 0 and receive.poll() else "no output"
    except EOFError:  # the child died before it could say why
        problem = "no output"
    receive.close()
    if code != 0:
        how = f"exit {code}" if code is not None and code > 0 else f"signal {-(code or 0)}"
        raise ModelRejected(f"model version {version}: the probe failed ({how}: {problem[:200]})")


def _probe_in_interpreter(root: Path, version: str) -> None:
    """`probe_in_child` in a fresh interpreter, for processes that may not have multiprocessing children."""
    try:
        done = subprocess.run([sys.executable, "-m", "ringfence.gnn.registry", str(root), version],
                              capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelRejected(f"model version {version}: the probe did not finish in {PROBE_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        last = (done.stdout.decode(errors="replace").strip().splitlines() or ["no output"])[-1][:200]
        how = f"exit {done.returncode}" if done.returncode > 0 else f"signal {-done.returncode}"
        raise ModelRejected(f"model version {version}: the probe failed ({how}: {last})")


def _probe_child(root: str, version: str, report: Any) -> None:
    """The probe child: `_probe`, its failure sent up `report` (a pipe end) and the exit code set."""
    try:
        _probe(Path(root), version)
    except Exception as exc:
        report.send(f"{type(exc).__name__}: {str(exc)[:150]}")
        report.close()
        os._exit(1)  # the forkserver's child: no cleanup of state it shares with the server
    report.close()


class Registry:
    def __init__(self, models_dir: Path, probe: Probe | None = probe_in_child) -> None:
        """`probe` checks a version in a child process before activation (None: no probe, for
        tests of the registry's own bookkeeping)."""
        self.root = Path(models_dir)
        self.probe = probe

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
        (tmp / MANIFEST).write_text(json.dumps({"version": version, "sha256": _manifest(tmp)}, indent=1))
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
        """Verify `version`, probe it in a child process, then switch the pointer to it."""
        if version not in self.list():
            raise NotFound(f"model version {version} not found")
        try:
            self.verify(version)
        except ModelUnavailable as exc:
            raise ModelRejected(exc.message) from exc
        if self.probe is not None:
            self.probe(self.root, version)
        self._point(version)
        self.refused_path.unlink(missing_ok=True)

    def _point(self, version: str) -> None:
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

    def verify(self, version: str) -> None:
        """`ModelUnavailable` unless every file of `version` is the one its manifest names."""
        directory = self.root / version
        if "/" in version or version.startswith(".") or not directory.is_dir():
            raise ModelUnavailable(f"model version {version} is missing")
        try:
            listed = json.loads((directory / MANIFEST).read_text())["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"model version {version} has no readable manifest") from exc
        found = _manifest(directory)
        if not isinstance(listed, dict) or found != listed:
            changed = sorted(set(found) ^ set(listed) | {n for n in found if listed.get(n) != found[n]}) \
                if isinstance(listed, dict) else ["manifest"]
            raise ModelUnavailable(f"model version {version} does not match its manifest: {', '.join(changed)[:200]}")

    def load(self, version: str) -> ModelBundle:
        """Verify the whole version against its manifest, then read tensors with safetensors (no
        pickle anywhere). A missing or altered version is `ModelUnavailable` (503): a server fault."""
        self.verify(version)
        meta = self.meta(version)
        return ModelBundle(version, load_file(str(self.root / version / WEIGHTS)), meta)

    # -- start-up ------------------------------------------------------------------------
    @property
    def refused_path(self) -> Path:
        return self.root / REFUSED

    def fall_back_if_broken(self) -> dict[str, Any] | None:
        """At start-up: if the active version fails verification, refuse it (one log line),
        activate the newest older version that verifies, or none (the heuristic), and record
        the refusal; returns the record (None: the active version is fine, or there is none)."""
        version = self.active_version()
        if version is None:
            return None
        try:
            self.verify(version)
            return None
        except ModelUnavailable as exc:
            reason = exc.message
        fallback = next((v for v in reversed(self.list()) if v < version and self._verifies(v)), None)
        if fallback is None:
            self.pointer.unlink(missing_ok=True)
        else:
            self._point(fallback)
        record = {"refused": version, "reason": reason, "serving": fallback or "heuristic", "at": to_rfc3339(utcnow())}
        self.refused_path.write_text(json.dumps(record))
        log.error("model version %s refused at start-up (%s); serving %s instead", version, reason,
                  fallback or "the heuristic")
        return record

    def _verifies(self, version: str) -> bool:
        try:
            self.verify(version)
        except ModelUnavailable:
            return False
        return True

    def refusal(self) -> dict[str, Any] | None:
        """The start-up refusal in force (see `fall_back_if_broken`), if any."""
        try:
            record = json.loads(self.refused_path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def health(self) -> ModelHealth:
        """What scores now, for /readyz and /metrics."""
        version = self.active_version()
        if version is not None and not self._verifies(version):
            return ModelHealth(version, "broken", f"model version {version} fails verification")
        refusal = self.refusal()
        if refusal is not None:
            return ModelHealth(version or "heuristic", "fallback",
                               f"{refusal.get('refused')} refused at start-up: {refusal.get('reason')}")
        return ModelHealth(version or "heuristic", "serving", None)


def _probe(root: Path, version: str) -> None:
    """Load `version` and score a small probe graph (three accounts sharing a device, one with a
    fraud label), in this process: what `probe_in_child` runs in its child."""
    import math

    from ringfence.core.settings import Settings
    from ringfence.gnn.predictor import Predictor
    from ringfence.gnn.score import Scorer
    from ringfence.graph.model import AccountIn, LabelIn, Link
    from ringfence.graph.sqlite_store import SQLiteStore

    bundle = Registry(root, probe=None).load(version)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        store = SQLiteStore(Path(tmp) / "probe.db")
        store.migrate()
        try:
            now = utcnow()
            links = [(Link("device", "probe-dev"), Link("card", f"probe-c{n}")) for n in range(3)]
            store.upsert_accounts([AccountIn(f"probe-{n}", now, {"channel": "web"}, links[n]) for n in range(3)])
            store.add_labels([LabelIn("probe-0", "fraud", "probe")])
            scores = Scorer(settings, Predictor.from_bundle(bundle)).score_accounts(store, ["probe-1", "probe-2"])
        finally:
            store.close()
    if len(scores) != 2 or not all(math.isfinite(s.risk) and 0.0 <= s.risk <= 1.0 for s in scores):
        raise ValueError(f"probe scores out of range: {[s.risk for s in scores]}")


if __name__ == "__main__":  # `_probe_in_interpreter`'s child
    try:
        _probe(Path(sys.argv[1]), sys.argv[2])
    except Exception as exc:  # the parent reads the last line
        print(f"{type(exc).__name__}: {str(exc)[:150]}")
        sys.exit(1)
