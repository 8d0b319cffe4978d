"""Why a request to a URL was not made, or failed."""

# Outcome categories: what a failed request tells whoever configured the URL.
REFUSED_ADDRESS = "refused_address"
TIMEOUT = "timeout"
CONNECTION_FAILED = "connection_failed"
TLS_ERROR = "tls_error"


class EgressError(Exception):
    """The request could not be made. ``str(error)`` is safe to show whoever gave the URL;
    ``detail`` (the underlying error) is for operators and logs only."""

    category = CONNECTION_FAILED

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class EgressRefused(EgressError):
    """The policy refuses the URL: its form, its scheme, or where its host points."""

    category = REFUSED_ADDRESS


class EgressTimeout(EgressError):
    category = TIMEOUT


class EgressConnectionFailed(EgressError):
    category = CONNECTION_FAILED


class EgressTLSError(EgressError):
    category = TLS_ERROR
