"""Deployment settings from CDK context (cdk.json, or `-c key=value` on the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

PREFIX = "orderhub:"


@dataclass(frozen=True)
class StageConfig:
    stage: str
    payment_window_seconds: int
    log_retention_days: int
    alarm_email: str | None
    retain_data: bool
    # A provider's test-mode payment may pay a live order: for sandboxes only.
    accept_test_payments: bool = False
    # A payment session or refund open this long without a notification is asked about.
    payment_reconcile_after_seconds: int = 15 * 60
    # The sales channels this shop sells on (`orderhub:channels`, comma-separated registry
    # names): only they get ingress, secrets and push queues. None: every channel.
    channels: tuple[str, ...] | None = None

    def sells_on(self, channel: str) -> bool:
        return self.channels is None or channel in self.channels

    @classmethod
    def from_context(cls, scope: Construct) -> StageConfig:
        def get(name: str, default: object) -> object:
            value = scope.node.try_get_context(PREFIX + name)
            return default if value is None else value

        email = str(get("alarmEmail", "") or "") or None
        channels = _names(get("channels", None))
        return cls(
            stage=str(get("stage", "dev")),
            payment_window_seconds=int(str(get("paymentWindowSeconds", 24 * 3600))),
            log_retention_days=int(str(get("logRetentionDays", 30))),
            alarm_email=email,
            retain_data=str(get("retainData", "true")).lower() == "true",
            accept_test_payments=str(get("acceptTestPayments", "false")).lower() == "true",
            payment_reconcile_after_seconds=int(str(get("paymentReconcileAfterSeconds", 15 * 60))),
            channels=channels,
        )


def _names(value: object) -> tuple[str, ...] | None:
    """A list from cdk.json, or "a,b" from `-c orderhub:channels=a,b`; None: not set."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise TypeError(f"{PREFIX}channels: expected a list of channel names, got {value!r}")
    return tuple(str(item).strip() for item in items if str(item).strip())
