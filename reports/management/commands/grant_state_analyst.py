"""``manage.py grant_state_analyst USERNAME STATE``: open a state's analyst pages to one
person (``--revoke`` closes them)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from reports.models import StateAnalyst


class Command(BaseCommand):
    help = "Grant (or with --revoke, remove) a state's analyst pages, /state/, to a user."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("state", help="The state's USPS code, such as OR.")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, username, state, revoke, **options):
        state = state.upper()
        if len(state) != 2 or not state.isalpha():
            raise CommandError(f"not a state code: {state!r}")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        if revoke:
            removed, _ = StateAnalyst.objects.filter(user=user, state=state).delete()
            self.stdout.write(f"{username}: {state} revoked" if removed else "nothing to revoke")
            return
        StateAnalyst.objects.get_or_create(user=user, state=state)
        self.stdout.write(f"{username} may now open /state/{state}/")
