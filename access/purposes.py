"""Declared purpose: why a staff member opens a student's sensitive categories.

Health, discipline and programs (categories.SENSITIVE_CATEGORIES) stay closed to staff
routes until a purpose is given: the access decision itself withholds them
(``access.scoping.allowed_for``), on every surface. On a student's page the staff
member picks one from a short list, once per session and student (kept in the session,
so it ends when they sign out); the API takes it as a parameter. The purpose is written
to the access log entry of every read it opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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


@dataclass(frozen=True)
class Purpose:
    """Why a staff member reads a student's sensitive categories: one a person declared
    (a key of ``PURPOSES``), or one a page's work carries by itself (``CLASS_ROSTER``)."""

    key: str
    detail: str = ""
    text: str = ""  # a page's own purpose, as the log records it

    @property
    def label(self) -> str:
        """As shown to the staff member, in their language."""
        label = str(LABELS.get(self.key, self.key))
        return f"{label}: {self.detail}" if self.detail else label

    @property
    def log_text(self) -> str:
        """As written to the access log (in English, like every logged purpose)."""
        if self.text:
            return self.text
        text = f"declared purpose: {LOG_TEXT[self.key]}"
        return (f"{text}: {self.detail}" if self.detail else text)[:200]


# A teacher's roster shows the accommodations the teacher must provide: that is its work.
CLASS_ROSTER = Purpose("class_roster", text="class roster: accommodations the teacher provides")
# What someone could open once they say why ("who can see this student").
ANY_DECLARED = Purpose("any_declared", text="any declared purpose")


def purpose_from(key, detail="") -> Purpose:
    """The purpose a person declared, checked: one of the list, and "other" with a few
    words. Anything else is refused (``ValidationError`` keyed by field)."""
    detail = " ".join(str(detail or "").split())
    if key not in LOG_TEXT:
        raise ValidationError({"purpose": _("Choose a purpose from the list.")})
    if key == OTHER and not detail:
        raise ValidationError({"detail": _("Say in a few words what the purpose is.")})
    if len(detail) > DETAIL_MAX:
        raise ValidationError(
            {"detail": _("Keep the purpose under %(max)d characters.") % {"max": DETAIL_MAX}}
        )
    return Purpose(key, detail)


def declared_purpose(session, student_id: int) -> Purpose | None:
    """The purpose declared for this student in this session, if any."""
    saved = (session.get(SESSION_KEY) or {}).get(str(student_id))
    if not isinstance(saved, dict) or saved.get("key") not in LOG_TEXT:
        return None
    return Purpose(saved["key"], str(saved.get("detail") or ""))


def declare_purpose(session, student_id: int, purpose: str, detail: str = "") -> Purpose:
    """Record the purpose for this student for the rest of the session."""
    declared = purpose_from(purpose, detail)
    saved = dict(session.get(SESSION_KEY) or {})
    saved[str(student_id)] = {"key": declared.key, "detail": declared.detail}
    session[SESSION_KEY] = saved
    return declared
