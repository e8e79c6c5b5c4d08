"""API authentication: DRF's tokens, read in one query with the reader's cache epoch.

Its own module because DRF imports the authentication classes while its views load.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from access.models import CacheEpoch
from accounts.models import User


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, in one query that also reads the reader's district's cache
    epoch (records/cache_epochs.py): an API request then needs no separate round trip for it."""

    def authenticate_credentials(self, key):
        with connection.cursor() as cursor:
            cursor.execute(_USER_BY_TOKEN, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = User.from_db(connection.alias, _USER_COLUMNS, row[:-1])
        user.cache_epoch_value = row[-1]  # read by access.viewer.viewer_for
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)


_USER_COLUMNS = [field.attname for field in User._meta.concrete_fields]
_USER_BY_TOKEN = f"""
    SELECT {", ".join(f'u."{field.column}"' for field in User._meta.concrete_fields)},
        epoch.value
    FROM "{Token._meta.db_table}" AS token
    JOIN "{User._meta.db_table}" AS u ON u.id = token.user_id
    LEFT JOIN "{CacheEpoch._meta.db_table}" AS epoch ON epoch.district_id = u.district_id
    WHERE token.key = %s
"""  # noqa: S608 - names from the models
