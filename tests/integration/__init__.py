"""Services, processes and faults: the API in and out of process, real Celery workers on real Redis, the CLI."""
