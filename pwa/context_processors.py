from django.conf import settings


def web_push(request) -> dict:
    """The VAPID public key the page subscribes with; empty when Web Push is off."""
    return {"vapid_public_key": settings.COIWEB_VAPID_PUBLIC_KEY}
