"""API keys: `Authorization: Bearer <key>`, keys and scopes from `RINGFENCE_API_KEYS`.

A presented key is hashed and compared with `hmac.compare_digest` against the hash of every
configured key, without stopping at a match, so the time taken says nothing about which key
(or how much of one) matched. Keys are never logged; a principal carries only the key's
position in the list (`key-0`, ...) for rate limiting and logs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from ringfence.core.settings import Settings

ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    scopes: frozenset[str]

    def allows(self, scopes: tuple[str, ...]) -> bool:
        """`admin` implies every scope; otherwise any one of `scopes` suffices; no scopes: any key."""
        return not scopes or ADMIN in self.scopes or any(s in self.scopes for s in scopes)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    def __init__(self, settings: Settings) -> None:
        self._keys = [
            (_digest(key), Principal(f"key-{n}", scopes))
            for n, (key, scopes) in enumerate(settings.key_scopes().items())
        ]

    def lookup(self, presented: str) -> Principal | None:
        digest = _digest(presented)
        found: Principal | None = None
        for known, principal in self._keys:
            if hmac.compare_digest(digest, known):
                found = principal
        return found
