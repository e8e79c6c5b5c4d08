from django.core.management.base import BaseCommand, CommandError

from accounts.services import guardian_invitations_send
from records.models import District
from records.tenancy import tenant_scope


class Command(BaseCommand):
    help = (
        "Email an invitation link to every active guardian of the district (a user with a "
        "guardian link there) who has an email address and no usable password, and who "
        "holds no unexpired invitation. With --resend, guardians who hold one get a new "
        "link too and their older links stop working. Nobody who can already sign in is "
        "ever invited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", required=True, help="the district's slug")
        parser.add_argument(
            "--resend",
            action="store_true",
            help="also invite guardians whose invitation is still open, voiding it",
        )

    def handle(self, *args, district, resend, **options):
        try:
            target = District.objects.get(slug=district)
        except District.DoesNotExist:
            raise CommandError(f"No district with slug {district!r}.") from None
        with tenant_scope(target):
            sent = guardian_invitations_send(actor=None, district=target, resend=resend)
        self.stdout.write(f"Sent {sent} invitation(s) to guardians of {target.name}.")
