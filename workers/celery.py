"""The app of worker and beat processes: `celery -A ringfence.workers worker|beat` finds it here
(Celery looks for `<package>.celery`). Only those processes import this module."""

from ringfence.workers.app import make_celery

app = make_celery()
