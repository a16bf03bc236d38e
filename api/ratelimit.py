"""Per-key rate limits: a token bucket in the process, or a shared fixed window on Redis.

`settings.rate_limit_per_s` is the sustained rate and `settings.rate_limit_burst` the burst.
With a `redis://` broker every API replica counts in the same Redis: a fixed window of
`burst / rate` seconds admitting `burst` requests (same average rate, bursts up to the
burst size), taken atomically by a small Lua script. If Redis does not answer the limiter
lets requests through: a limiter outage must not become an API outage.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from typing import Any, Protocol

from ringfence.core.settings import Settings

log = logging.getLogger("ringfence.api")


class RateLimiter(Protocol):
    async def hit(self, key_id: str) -> float:
        """Take one request for `key_id`: 0 if admitted, else the seconds to wait."""

    async def close(self) -> None: ...


class TokenBucketLimiter:
    # Keys may be client addresses (`FailedAuthThrottle`): past this many buckets, full ones go.
    MAX_BUCKETS = 65536

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def waiting(self, key_id: str) -> float:
        """The seconds until `key_id` may take a request (0: now), taking nothing."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    async def hit(self, key_id: str) -> float:
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= self.MAX_BUCKETS:
                refilled = self.burst / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refilled}
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate

    async def close(self) -> None:
        return None


_WINDOW_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
"""


class RedisWindowLimiter:
    def __init__(self, url: str, rate: float, burst: int, prefix: str = "ringfence:ratelimit:") -> None:
        from redis.asyncio import Redis

        self.limit = burst
        self.window_ms = max(1, math.ceil(1000 * burst / rate))
        self.prefix = prefix
        self._redis: Any = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self._redis.register_script(_WINDOW_LUA)
        self._warned = 0.0

    def _key(self, key_id: str) -> str:
        # Key ids are positions in the key list; hashing keeps Redis names opaque anyway.
        window = int(time.time() * 1000) // self.window_ms
        return f"{self.prefix}{hashlib.sha256(key_id.encode()).hexdigest()[:16]}:{window}"

    async def hit(self, key_id: str) -> float:
        try:
            count, ttl = await self._script(keys=[self._key(key_id)], args=[self.window_ms])
        except Exception as exc:  # any Redis failure: fail open, warn at most once a minute
            if time.monotonic() - self._warned > 60:
                self._warned = time.monotonic()
                log.warning("rate limiter: redis unavailable (%s); admitting requests", type(exc).__name__)
            return 0.0
        if int(count) <= self.limit:
            return 0.0
        return max(int(ttl), 1) / 1000.0

    async def close(self) -> None:
        await self._redis.aclose()


class FailedAuthThrottle:
    """Failed authentications per client address: past the budget, every request from that
    address is refused (429) before its key is even looked at, so guessing keys runs at
    `settings.auth_failures_per_s`, not at the server's speed. Per process: each replica
    throttles on its own (a replica adds its own budget, not a bypass)."""

    def __init__(self, settings: Settings) -> None:
        self._bucket = TokenBucketLimiter(settings.auth_failures_per_s, settings.auth_failures_burst)

    def waiting(self, address: str) -> float:
        return self._bucket.waiting(address)

    async def failed(self, address: str) -> None:
        await self._bucket.hit(address)


def make_limiter(settings: Settings) -> RateLimiter:
    url = settings.broker_url or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisWindowLimiter(url, settings.rate_limit_per_s, settings.rate_limit_burst)
    return TokenBucketLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
