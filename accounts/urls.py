from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("setup/", views.setup, name="setup"),
    path("invite/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("invitations/", views.invitations, name="invitations"),
    path("settings/", views.preferences, name="preferences"),
    path("settings/profile/", views.profile, name="profile"),
    path("settings/theme/", views.theme, name="theme"),
    path("avatar/<int:version>/", views.avatar, name="avatar"),
    path("mailboxes/", views.mailbox_list, name="mailbox_list"),
    path("mailboxes/new/", views.mailbox_new, name="mailbox_new"),
    path("mailboxes/<int:account_id>/", views.mailbox_detail, name="mailbox_detail"),
    path("mailboxes/<int:account_id>/coi/", views.mailbox_coi, name="mailbox_coi"),
    path("mailboxes/<int:account_id>/fallback/", views.mailbox_fallback, name="mailbox_fallback"),
    path("mailboxes/<int:account_id>/remove/", views.mailbox_remove, name="mailbox_remove"),
]
