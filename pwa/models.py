"""A browser on a device that asked for push notifications (its Push API subscription)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PushSubscription(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    # The push service URL is the subscription's identity: one browser profile, one endpoint.
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=100)  # the browser's P-256 key (RFC 8291), base64url
    auth = models.CharField(max_length=50)  # its 16-byte auth secret, base64url
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"

    def as_subscription_info(self) -> dict:
        """What pywebpush takes, in the shape of the browser's PushSubscription.toJSON()."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
