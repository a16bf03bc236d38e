"""Domain errors. Backends translate driver exceptions into these, in one place each.

RingfenceError
├── InvalidInput          bad data that got past the API's schema checks (422)
│   └── PanNotAllowed     a raw card number anywhere in the input (422 pan_not_allowed)
├── NotFound              unknown account, ring, job or model (404)
├── Conflict              the operation clashes with current state (409)
│   └── SweepRunning      another sweep holds the lock (409 sweep_running)
└── StoreUnavailable      the graph store did not answer; safe to retry (503)
"""

from __future__ import annotations


class RingfenceError(Exception):
    code = "internal"

    def __init__(self, message: str, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(RingfenceError):
    code = "invalid_input"


class PanNotAllowed(InvalidInput):
    code = "pan_not_allowed"

    def __init__(self, where: str = "input") -> None:
        # The number itself is never part of the message: it must not be echoed or logged.
        super().__init__(f"A raw card number was found in {where}; send a token or fingerprint.")


class NotFound(RingfenceError):
    code = "not_found"


class Conflict(RingfenceError):
    code = "conflict"


class SweepRunning(Conflict):
    code = "sweep_running"

    def __init__(self) -> None:
        super().__init__("A sweep is already running; try again when it has finished.")


class StoreUnavailable(RingfenceError):
    code = "store_unavailable"
