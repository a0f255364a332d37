"""The service worker, the offline page, and devices subscribing to push notifications."""

from __future__ import annotations

import hashlib
import json
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from pwa import notify
from pwa.forms import EndpointForm, SubscriptionForm

# The static files every page loads (base.html), kept by the service worker so the app
# starts without the network; a test checks that base.html loads nothing else.
SHELL = (
    "app.css",
    "app.js",
    "message-actions.js",
    "conversation.css",
    "conversation.js",
    "chatlist.css",
    "chatlist.js",
    "shell.js",
    "pwa.js",
    "vendor/htmx-2.0.11.min.js",
    "vendor/htmx-ext-ws-2.0.4.js",
    "manifest.webmanifest",
    "icons/icon.svg",
    "icons/icon-192.png",
    "icons/badge-96.png",
)


def _shell_version() -> str:
    """Changes whenever a shell file or the offline page changes, and with it the worker's
    bytes: that is what makes browsers install the new worker and drop the old cache."""
    digest = hashlib.sha256()
    for name in SHELL:
        digest.update(name.encode() + b"\0")
        with open(finders.find(name), "rb") as f:
            digest.update(f.read())
    digest.update(get_template("pwa/offline.html").template.source.encode())
    return digest.hexdigest()[:16]


_cached_shell_version = cache(_shell_version)


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    version = _shell_version() if settings.DEBUG else _cached_shell_version()
    body = render_to_string(
        "pwa/sw.js",
        {
            "version": version,
            "offline_url": reverse("pwa:offline"),
            "shell": json.dumps([static(name) for name in SHELL]),
            "icon": static("icons/icon-192.png"),
            "badge": static("icons/badge-96.png"),
        },
    )
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """Shown by the service worker when the server cannot be reached; nothing personal in it."""
    return HttpResponse(render_to_string("pwa/offline.html"))


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> HttpResponse:
    if not notify.enabled():
        return JsonResponse({"error": "Notifications are not set up on this server."}, status=409)
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    notify.subscribe_device(user=request.user, **form.cleaned_data)
    return JsonResponse({"subscribed": True})


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    notify.unsubscribe_device(user=request.user, endpoint=form.cleaned_data["endpoint"])
    return JsonResponse({"subscribed": False})
