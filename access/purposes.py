"""Declared purpose: why a staff member opens a student's sensitive categories.

Health, discipline and programs (policy.SENSITIVE_CATEGORIES) stay closed on a staff
member's student page until they pick a purpose from a short list, once per session
and student. The purpose is kept in the session (so it ends when they sign out) and
written to the access log entry of every read of that student that follows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from access import policy
from access.scoping import Allowed

SESSION_KEY = "declared_purposes"
OTHER = "other"
DETAIL_MAX = 200

# (key, label shown to staff, text written to the access log in English).
PURPOSES = (
    ("iep_meeting", _("IEP meeting"), "IEP meeting"),
    ("health_follow_up", _("Health follow-up"), "health follow-up"),
    ("attendance_follow_up", _("Attendance follow-up"), "attendance follow-up"),
    (OTHER, _("Other"), "other"),
)
PURPOSE_CHOICES = [(key, label) for key, label, _log in PURPOSES]
LABELS = {key: label for key, label, _log in PURPOSES}
LOG_TEXT = {key: log for key, _label, log in PURPOSES}


def sensitive_categories(allowed: Allowed) -> frozenset[str]:
    """The sensitive categories among those the viewer may see of a student."""
    return allowed.categories & policy.SENSITIVE_CATEGORIES


@dataclass(frozen=True)
class Declared:
    """A purpose declared for one student in one session."""

    key: str
    detail: str = ""

    @property
    def label(self) -> str:
        """As shown to the staff member, in their language."""
        label = str(LABELS[self.key])
        return f"{label}: {self.detail}" if self.detail else label

    @property
    def log_text(self) -> str:
        """As written to the access log (in English, like every logged purpose)."""
        text = f"declared purpose: {LOG_TEXT[self.key]}"
        return (f"{text}: {self.detail}" if self.detail else text)[:200]


def declared_purpose(session, student_id: int) -> Declared | None:
    """The purpose declared for this student in this session, if any."""
    saved = (session.get(SESSION_KEY) or {}).get(str(student_id))
    if not isinstance(saved, dict) or saved.get("key") not in LOG_TEXT:
        return None
    return Declared(saved["key"], str(saved.get("detail") or ""))


def declare_purpose(session, student_id: int, purpose: str, detail: str = "") -> Declared:
    """Record the purpose for this student for the rest of the session. "Other" needs a
    few words; an unknown purpose is refused (``ValidationError`` keyed by field)."""
    detail = " ".join((detail or "").split())
    if purpose not in LOG_TEXT:
        raise ValidationError({"purpose": _("Choose a purpose from the list.")})
    if purpose == OTHER and not detail:
        raise ValidationError({"detail": _("Say in a few words what the purpose is.")})
    if len(detail) > DETAIL_MAX:
        raise ValidationError(
            {"detail": _("Keep the purpose under %(max)d characters.") % {"max": DETAIL_MAX}}
        )
    declared = dict(session.get(SESSION_KEY) or {})
    declared[str(student_id)] = {"key": purpose, "detail": detail}
    session[SESSION_KEY] = declared
    return Declared(purpose, detail)
