"""Django's PostgreSQL engine, logging in with an IAM authentication token.

RDS Proxy (``IAMAuth: REQUIRED``) accepts, as the password, a SigV4-presigned ``connect``
request for the database user, valid for 15 minutes — what
``boto3.client("rds").generate_db_auth_token`` makes. It is signed here, locally, with the
function's own credentials: no AWS call, and no RDS service model in the package.

A token is made for each new connection and never kept: a connection opened after a
SnapStart restore, or after Django closed one at ``CONN_MAX_AGE``, signs a fresh one with
the credentials in force then. The URL (``DATABASE_URL``) names the user and holds no
password; TLS is required by the proxy (``sslmode=require``).
"""

from typing import Any

import botocore.session
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base

TOKEN_SECONDS = 900  # the longest RDS accepts; only the login needs it to be valid


def auth_token(*, host: str, port: int, user: str, region: str, credentials: Credentials) -> str:
    """The IAM authentication token for ``user`` at ``host:port`` (``host:port/?Action=connect&…``)."""
    request = AWSRequest(method="GET", url=f"https://{host}:{port}/", params={"Action": "connect", "DBUser": user})
    SigV4QueryAuth(credentials, "rds-db", region, expires=TOKEN_SECONDS).add_auth(request)
    # RDS wants the URL without its scheme.
    return str(request.url).removeprefix("https://")


def current_credentials() -> Credentials:
    """The function's credentials now (its role's, refreshed by Lambda)."""
    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise ImproperlyConfigured("DB_IAM_AUTH needs AWS credentials to sign the database login.")
    frozen: Credentials = credentials.get_frozen_credentials()
    return frozen


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if not params.get("host") or not params.get("user"):
            raise ImproperlyConfigured("DB_IAM_AUTH needs the database URL's host and user.")
        params["password"] = auth_token(
            host=params["host"],
            port=int(params.get("port") or 5432),
            user=params["user"],
            region=getattr(settings, "AWS_REGION", settings.AWS_DEFAULT_REGION),
            credentials=current_credentials(),
        )
        return params
