"""Usernames unique whatever their case: a unique index on lower(username).

Accounts that already differ only in case cannot be merged or renamed by a migration
(each may be someone's sign-in), so the migration stops first and names them; rename
all but one of each group, then run ``migrate`` again.
"""

from django.core.management.base import CommandError
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower

SHOWN_GROUPS = 50


def refuse_lookalikes(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    if schema_editor.connection.vendor == "postgresql":
        # No lookalike may be added between this check and the index (the index takes
        # this lock anyway; the transaction keeps it until the migration commits).
        schema_editor.execute('LOCK TABLE "accounts_user" IN SHARE MODE')
    folded = (
        User.objects.annotate(folded=Lower("username"))
        .values("folded")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .order_by("folded")
        .values_list("folded", flat=True)
    )
    clashes = list(folded)
    if not clashes:
        return
    accounts = (
        User.objects.annotate(folded=Lower("username"))
        .filter(folded__in=clashes[:SHOWN_GROUPS])
        .order_by("folded", "username", "pk")
        .values_list("folded", "username", "pk", "district__slug")
    )
    groups: dict[str, list[str]] = {}
    for key, username, pk, district in accounts:
        groups.setdefault(key, []).append(f"{username!r} (id {pk}, district {district or '-'})")
    lines = [f"  {', '.join(group)}" for group in groups.values()]
    if len(clashes) > SHOWN_GROUPS:
        lines.append(f"  … and {len(clashes) - SHOWN_GROUPS} more groups")
    raise CommandError(
        "Usernames must be unique whatever their case, but these accounts differ only in "
        "case:\n" + "\n".join(lines) + "\nRename all but one account of each group (in the "
        "admin, or in the district's OneRoster bundle and import it again), then run "
        "migrate again."
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_invitation_tenant_keys")]

    operations = [
        migrations.RunPython(refuse_lookalikes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_lower_key",
                violation_error_message="A user with that username already exists.",
            ),
        ),
    ]
