from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django import forms
from django.conf import settings


def b64url_decode(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise forms.ValidationError("not base64url") from None


def is_push_service(endpoint: str) -> bool:
    """Whether `endpoint` is an https URL of an allowed push service (see settings)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return False
    return any(
        allowed == "*" or host == allowed or host.endswith("." + allowed)
        for allowed in settings.COIWEB_PUSH_SERVICE_HOSTS
    )


class SubscriptionForm(forms.Form):
    """A browser's PushSubscription.toJSON(), flattened: endpoint, keys.p256dh, keys.auth."""

    endpoint = forms.URLField(max_length=2000, assume_scheme="https")
    p256dh = forms.CharField(max_length=100)
    auth = forms.CharField(max_length=50)

    def clean_endpoint(self) -> str:
        endpoint = self.cleaned_data["endpoint"]
        if not is_push_service(endpoint):
            raise forms.ValidationError("This is not a push service this server sends to.")
        return endpoint

    def clean_p256dh(self) -> str:
        value = self.cleaned_data["p256dh"]
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(value))
        except ValueError:
            raise forms.ValidationError("not a P-256 public key") from None
        return value

    def clean_auth(self) -> str:
        value = self.cleaned_data["auth"]
        if len(b64url_decode(value)) != 16:  # RFC 8291, section 3.2
            raise forms.ValidationError("the auth secret must be 16 bytes")
        return value


class EndpointForm(forms.Form):
    endpoint = forms.URLField(max_length=2000, assume_scheme="https")
