from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Invitation, MailAccount, User


@admin.register(User)
class CoiUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Profile", {"fields": ("display_name",)}))


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("note", "created_by", "created_at", "expires_at", "used_by", "used_at")
    readonly_fields = ("token", "used_by", "used_at")


@admin.register(MailAccount)
class MailAccountAdmin(admin.ModelAdmin):
    list_display = ("email", "user", "mode", "is_active", "last_sync_at", "last_error")
    list_filter = ("is_active", "mode")
    search_fields = ("email", "user__username")
    # The encrypted password is excluded: the admin never shows or edits credentials.
    exclude = ("password_encrypted",)
    readonly_fields = ("capabilities", "last_sync_at", "last_error", "last_error_at", "created_at")
