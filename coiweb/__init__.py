"""coiweb: chat over IMAP in the browser."""

from coiweb.celery import app as celery_app

__all__ = ["celery_app"]
