from django.urls import path

from pwa import views

app_name = "pwa"

urlpatterns = [
    # At the root: a service worker controls only the paths below its own URL.
    path("sw.js", views.service_worker, name="service_worker"),
    path("offline/", views.offline, name="offline"),
    path("push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("push/unsubscribe/", views.push_unsubscribe, name="push_unsubscribe"),
]
