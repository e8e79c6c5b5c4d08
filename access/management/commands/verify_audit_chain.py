"""Verify every district's access-log hash chain, and the anchors kept outside the database."""

from django.core.management.base import BaseCommand, CommandError

from access.anchors import anchor_path, mismatched_anchors, read_anchors
from access.audit import verify_chain
from access.models import AuditChain
from records.models import District
from records.tenancy import system_scope


class Command(BaseCommand):
    help = (
        "Check each district's access log: every event's hash, the chain head, and the "
        "heads anchored nightly outside the database. Reports the first broken link; "
        "exits 1 if anything fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", help="one district's slug (default: every district)")

    @system_scope("verify the audit chains")
    def handle(self, *args, district=None, **options):
        districts = District.objects.order_by("pk")
        if district:
            districts = districts.filter(slug=district)
            if not districts.exists():
                raise CommandError(f"No district {district!r}.")
        anchors, forged = read_anchors()
        heads = dict(AuditChain.unscoped.values_list("district_id", "last_sequence"))
        failures = 0
        for each in districts:
            failures += self._check(each, heads.get(each.pk, 0), anchors)
        for line in forged:
            self.stdout.write(f"{anchor_path()}, line {line}: the signature does not verify.")
        if forged:
            failures += 1
        if failures:
            raise CommandError("The access log does not verify (above).")
        self.stdout.write(f"Every chain verifies; {len(anchors)} anchors match.")

    def _check(self, district, events: int, anchors) -> int:
        broken = verify_chain(district.pk)
        if broken is not None:
            self.stdout.write(
                f"{district.slug}: the first broken link is the event at sequence {broken} "
                f"(of {events:,}): changed, missing, or the head does not match."
            )
            return 1
        mismatched = mismatched_anchors(district.pk, anchors)
        for anchor in mismatched:
            self.stdout.write(
                f"{district.slug}: the event at sequence {anchor.sequence} is not the one "
                f"anchored on {anchor.recorded_at}: the chain was rewritten up to it."
            )
        if not mismatched:
            self.stdout.write(f"{district.slug}: {events:,} events verify.")
        return len(mismatched)
