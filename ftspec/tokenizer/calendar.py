"""The date a chat template renders (Llama 3's "Today Date"), pinned: a template's ``strftime_now()`` answers the
plan's day, at midnight, in lint and plan (ftspec's renderer) and in the trainer and evaluation (transformers')."""

from __future__ import annotations

import datetime


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day)


def pinned_strftime(day: datetime.date):
    """strftime_now() as transformers defines it for templates, on ``day`` at midnight."""
    moment = _midnight(day)

    def strftime_now(fmt: str) -> str:
        return moment.strftime(fmt)

    return strftime_now


def pin_transformers_calendar(day: datetime.date | str | None) -> None:
    """Make transformers' chat templates render ``day`` (an ISO date) as today, in this process. transformers' own
    strftime_now reads ``datetime.now()`` from its chat_template_utils module: that name is what changes."""
    if day is None:
        return
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    from transformers.utils import chat_template_utils

    moment = _midnight(day)

    class PinnedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return moment if tz is None else moment.replace(tzinfo=tz)

    chat_template_utils.datetime = PinnedDatetime
