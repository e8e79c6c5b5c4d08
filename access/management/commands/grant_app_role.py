"""Give the application's database role its privileges (access/database_roles.py)."""

import os

from django.core.management.base import BaseCommand, CommandError

from access.database_roles import grant_application_role


class Command(BaseCommand):
    help = (
        "Run as the tables' owner after each migrate: grant ROLE (made, as a login role, "
        "if missing and --password-env names a variable holding its password) the "
        "application's privileges: all tables, but INSERT and SELECT only on the access log."
    )

    def add_arguments(self, parser):
        parser.add_argument("role")
        parser.add_argument("--password-env", help="environment variable with its password")

    def handle(self, *args, role, password_env=None, **options):
        password = os.environ.get(password_env) if password_env else None
        if password_env and not password:
            raise CommandError(f"{password_env} is empty or unset.")
        try:
            statements = grant_application_role(role, password=password)
        except ValueError as refused:
            raise CommandError(str(refused)) from None
        for statement in statements:
            self.stdout.write(statement)
