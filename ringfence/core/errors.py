"""The one error hierarchy. Each class carries its HTTP status and its wire code; the API
translates any of them to the contract's error shape in one handler (`api.errors`), and
backends translate driver exceptions into them, in one place each.

RingfenceError              500 internal         a bug: never raised on purpose
├── ShardFailed             500 shard_failed     a shard of a sharded sweep failed for good
├── BadRequest              400 bad_request      a request the server could not read
│   ├── MalformedJson       400 malformed_json   not JSON, or nested deeper than the API reads
│   └── InvalidCursor       400 invalid_cursor   a cursor this service did not issue (or altered)
├── InvalidInput            422 invalid_input    bad data that got past the API's schema checks
│   └── PanNotAllowed       422 pan_not_allowed  a raw card number anywhere in the input
├── Unauthenticated         401 unauthenticated  no key, or an unknown one
├── Forbidden               403 forbidden        the key lacks the scope
├── NotFound                404 not_found        unknown account, ring, job or model
├── Conflict                409 conflict         the operation clashes with current state
│   ├── SweepRunning        409 sweep_running    another sweep holds the lock
│   ├── ModelRejected       409 model_rejected   a model version failed verification or its probe
│   └── ShardingUnsupported 409 sharding_unsupported  the model reads 2 hops: no sharded sweep
├── RateLimited             429 rate_limited     the key's request budget is spent
└── Unavailable             503                  a backing service did not answer; safe to retry
    ├── StoreUnavailable    503 store_unavailable  the graph store
    ├── ModelUnavailable    503 model_unavailable  no model (or a broken one) to score with
    └── BrokerUnavailable   503 store_unavailable  the message broker (the contract's one 503 code)
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

T = TypeVar("T")


class RingfenceError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, details: object | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class BadRequest(RingfenceError):
    status, code = 400, "bad_request"


class MalformedJson(BadRequest):
    code = "malformed_json"


class InvalidCursor(BadRequest):
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this service issued; start again without one.")


class InvalidInput(RingfenceError):
    status, code = 422, "invalid_input"


class PanNotAllowed(InvalidInput):
    code = "pan_not_allowed"

    def __init__(self, where: str = "input") -> None:
        # The number itself is never part of the message: it must not be echoed or logged.
        super().__init__(f"A raw card number was found in {where}; send a token or fingerprint.")


class Unauthenticated(RingfenceError):
    status, code = 401, "unauthenticated"


class Forbidden(RingfenceError):
    status, code = 403, "forbidden"


class NotFound(RingfenceError):
    status, code = 404, "not_found"


class Conflict(RingfenceError):
    status, code = 409, "conflict"


class SweepRunning(Conflict):
    code = "sweep_running"

    def __init__(self) -> None:
        super().__init__("A sweep is already running; try again when it has finished.")


class ModelRejected(Conflict):
    code = "model_rejected"


class ShardingUnsupported(Conflict):
    """The active model cannot be swept in shards (it reads 2-hop label counts)."""

    code = "sharding_unsupported"


class ShardFailed(RingfenceError):
    """A shard of a sharded sweep failed for good; the sweep published nothing."""

    status, code = 500, "shard_failed"


class RateLimited(RingfenceError):
    status, code = 429, "rate_limited"


class Unavailable(RingfenceError):
    status, code = 503, "store_unavailable"


class StoreUnavailable(Unavailable):
    pass


class ModelUnavailable(Unavailable):
    code = "model_unavailable"


class BrokerUnavailable(Unavailable):
    # The contract names one 503 code; the class says which service it was.
    pass


def found(value: T | None, message: str) -> T:
    """`value`, or `NotFound(message)` when it is missing: the one way a read turns into a 404."""
    if value is None:
        raise NotFound(message)
    return value
