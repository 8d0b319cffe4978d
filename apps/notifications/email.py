"""A Django email backend that sends through Amazon SES (API v2).

Configured like any backend (``MAILERS = {"default": {"BACKEND":
"apps.notifications.email.SesEmailBackend"}}``), it sends each ``EmailMessage`` with
``sesv2.send_email`` through ``apps.cloud``, so locally and in tests the emulated SES
receives the mail and in production the real one does. Plain messages (text, optionally
an HTML alternative) go as SES "simple" content; anything richer (attachments, extra
headers) as the raw MIME message Django builds.

After a send, the provider's message id is on the message: ``provider_message_id(message)``.
"""

from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from apps.cloud import api as cloud

_MESSAGE_ID_ATTRIBUTE = "provider_message_id"
_CHARSET = "UTF-8"


def provider_message_id(message: EmailMessage) -> str:
    """The id the provider gave ``message`` when it was sent ("" if none did)."""
    return str(getattr(message, _MESSAGE_ID_ATTRIBUTE, ""))


class SesEmailBackend(BaseEmailBackend):
    """Sends with ``sesv2.send_email``. AWS errors become ``RetryableError`` (throttling,
    5xx, network) or ``PermanentError`` (e.g. an unverified sender), unless
    ``fail_silently``."""

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        region: str | None = None,
        configuration_set: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        self.region = region
        self.configuration_set = configuration_set

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        ses = cloud.client("sesv2", region=self.region)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                with cloud.aws_errors("SendEmail"):
                    response = ses.send_email(**self._request(message))
            except Exception:
                if self.fail_silently:
                    continue
                raise
            setattr(message, _MESSAGE_ID_ATTRIBUTE, str(response.get("MessageId", "")))
            sent += 1
        return sent

    def _request(self, message: EmailMessage) -> dict[str, Any]:
        destination = {
            key: list(addresses)
            for key, addresses in (
                ("ToAddresses", message.to),
                ("CcAddresses", message.cc),
                ("BccAddresses", message.bcc),
            )
            if addresses
        }
        request: dict[str, Any] = {
            "FromEmailAddress": message.from_email,
            "Destination": destination,
            "Content": _content(message),
        }
        if message.reply_to:
            request["ReplyToAddresses"] = list(message.reply_to)
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request


def _content(message: EmailMessage) -> dict[str, Any]:
    alternatives = list(getattr(message, "alternatives", []) if isinstance(message, EmailMultiAlternatives) else [])
    html_alternatives = [content for content, mimetype in alternatives if mimetype == "text/html"]
    simple = (
        not message.attachments
        and not message.extra_headers
        and len(html_alternatives) == len(alternatives) <= 1
        and message.content_subtype in ("plain", "html")
    )
    if not simple:
        return {"Raw": {"Data": message.message().as_bytes()}}
    body: dict[str, Any] = {}
    if message.content_subtype == "html":
        body["Html"] = {"Data": str(message.body), "Charset": _CHARSET}
    else:
        body["Text"] = {"Data": str(message.body), "Charset": _CHARSET}
        if html_alternatives:
            body["Html"] = {"Data": str(html_alternatives[0]), "Charset": _CHARSET}
    return {"Simple": {"Subject": {"Data": str(message.subject), "Charset": _CHARSET}, "Body": body}}
