"""The workers' Celery application, configured from the environment.

Start a worker with ``cstf worker`` (which wraps ``celery -A workers.app
worker`` with the right options) or directly::

    celery -A workers.app worker -Q matching,detection,light -c 1 --prefetch-multiplier 1
"""

from __future__ import annotations

from celery import Celery

from torchgeo_cstf.jobs.settings import JobSettings

#: the settings this worker runs with (``CSTF_*`` environment variables)
settings = JobSettings.from_env()

app = Celery('cstf', include=['workers.tasks'])
app.conf.update(settings.celery_config())
