"""Why-visible facts in the words the pages use (records/views/reasons.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings

from records.views.reasons import sentences


def said(reaches, *, of_another: bool = False) -> list[str]:
    """The sentences a page shows for ``reaches`` (test districts keep the server's zone)."""
    return sentences(reaches, zone=ZoneInfo(settings.TIME_ZONE), of_another=of_another)
