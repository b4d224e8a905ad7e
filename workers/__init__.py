"""Celery workers of torchgeo-cstf: parse a job, call ``torchgeo_cstf``, write outputs.

The Celery application, its configuration and the task modules live in this
package; ``torchgeo_cstf`` never imports it.
"""
