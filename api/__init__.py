"""The HTTP API of `shared/contract/http-api.md`: `uvicorn api.app:create_app --factory`."""
