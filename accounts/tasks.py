"""Account jobs run by Celery."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.send_password_reset", ignore_result=True)
def send_password_reset(email: str, language: str) -> None:
    """The reset email of the accounts at ``email``, if any (accounts/views.py asks)."""
    services.password_reset_send(email=email, language=language)
