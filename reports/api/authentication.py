"""Bearer tokens for service accounts; the browser's session is DRF's SessionAuthentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import tokens


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session may authenticate the request
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header is 'Bearer <token>'.")
        try:
            account = tokens.service_account_for(header[1].decode("latin-1"))
        except tokens.InvalidToken as invalid:
            raise exceptions.AuthenticationFailed(str(invalid)) from None
        return account, header[1]

    def authenticate_header(self, request) -> str:
        # Makes a missing or bad token a 401 rather than a 403.
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the served OpenAPI document describes the bearer token."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
