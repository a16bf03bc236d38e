"""Celery: configuration (`app`), the tasks (`tasks`, thin adapters over `ringfence.services`) and the
producer side (`dispatch`). Worker and beat processes run `celery -A ringfence.workers` (`celery.py`)."""
