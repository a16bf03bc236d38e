"""The HTTP API of `shared/contract/http-api.md`: `uvicorn ringfence.api.app:create_app --factory`.

Routes are thin adapters over `ringfence.services`; nothing imports this package but the CLI."""
