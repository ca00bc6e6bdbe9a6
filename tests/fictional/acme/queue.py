"""AcmeParcel's tracking notifications on SQS, shaped like Amazon SP-API's: the body is the
notification; its NotificationMetadata.NotificationId is the dedupe key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.inbox.contract import EventId, ParsedWebhook, WebhookRequest, parse_json_model
from shared.inbox.queue import MESSAGE_ID_HEADER, SENT_TIMESTAMP_HEADER
from tests.fictional.acme.webhook import IGNORED


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Metadata(_Lenient):
    NotificationId: EventId


class Notification(_Lenient):
    NotificationType: str
    NotificationMetadata: Metadata


class AcmeParcelNotifications:
    source = "acmeparcel"

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        notification = parse_json_model(Notification, request.raw_body)
        return ParsedWebhook(
            event_id=notification.NotificationMetadata.NotificationId,
            topic=notification.NotificationType,
            event=None,
            ignored_reason=IGNORED,
            audit_headers={
                name: request.headers[name]
                for name in (MESSAGE_ID_HEADER, SENT_TIMESTAMP_HEADER)
                if request.headers.get(name)
            },
        )
