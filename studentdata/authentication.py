"""API authentication: DRF's tokens, read in one query with the reader's cache epoch.

Its own module because DRF imports the authentication classes while its views load.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from access.models import ApiClient, CacheEpoch
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


class ProviderClient:
    """The principal of a provider's OAuth 2 client-credentials token: no person, one
    API client of one district, with the scopes its token was issued."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    pk = None

    def __init__(self, client, scopes: frozenset[str]):
        self.api_client = client
        self.district_id = client.district_id
        self.scopes = scopes

    def get_username(self) -> str:
        return f"client {self.api_client.application.client_id}"

    def __str__(self) -> str:
        return self.get_username()


class ProviderTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` from the OAuth 2 token endpoint: the token is
    checked by django-oauth-toolkit (unexpired, not revoked); its application must be an
    enabled provider client. Grants are decided afterwards, per request, by access/."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        from oauth2_provider.oauth2_backends import get_oauthlib_core

        valid, oauth = get_oauthlib_core().verify_request(request._request, scopes=[])
        token = getattr(oauth, "access_token", None)
        if not valid or token is None:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        client = (
            ApiClient.unscoped.select_related("district", "provider", "application")
            .filter(application_id=token.application_id, is_active=True)
            .first()
        )
        if client is None:
            raise exceptions.AuthenticationFailed(_("This client is disabled."))
        return ProviderClient(client, frozenset(token.scope.split())), token

    def authenticate_header(self, request):
        return 'Bearer realm="oneroster"'
