"""Lift a hold on signing in early: an account's, or a client address's."""

from django.core.management.base import BaseCommand, CommandError

from accounts import sign_in_guard


class Command(BaseCommand):
    help = (
        "Forget the failed sign-ins of an account (it may sign in at once) or of a client "
        "address. District admins can release their staff on /district/staff/."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", help="the account's username")
        parser.add_argument("--address", help="a client address (IPv4 or IPv6) instead")

    def handle(self, *args, username=None, address=None, **options):
        if bool(username) == bool(address):
            raise CommandError("Name an account's username or give --address, not both.")
        if username:
            sign_in_guard.release(username)
            self.stdout.write(f"The account {username!r} may sign in again.")
        else:
            sign_in_guard.release_network(address)
            self.stdout.write(f"Sign-ins from {address} are no longer held back.")
