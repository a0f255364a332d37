from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("chats/new/", views.chat_new, name="chat_new"),
    path("chats/new-group/", views.group_new, name="group_new"),
    path("chats/list/", views.chat_list, name="chat_list"),
    path("chats/search/", views.chat_search, name="search"),
    path("chats/requests/", views.request_list, name="requests"),
    path("chats/archived/", views.archived_list, name="archived"),
    path("chats/<int:chat_id>/accept/", views.chat_accept, name="chat_accept"),
    path("chats/<int:chat_id>/block/", views.chat_block, name="chat_block"),
    path("chats/<int:chat_id>/delete/", views.chat_delete, name="chat_delete"),
    path("chats/<int:chat_id>/mute/", views.chat_flag, {"flag": "muted"}, name="chat_mute"),
    path(
        "chats/<int:chat_id>/archive/", views.chat_flag, {"flag": "archived"}, name="chat_archive"
    ),
    path("chats/<int:chat_id>/pin/", views.chat_flag, {"flag": "pinned"}, name="chat_pin"),
    path("chats/<int:chat_id>/leave/", views.group_leave, name="group_leave"),
    path("chats/<int:chat_id>/avatar/", views.group_avatar, name="group_avatar"),
    path("chats/<int:chat_id>/avatar/set/", views.group_avatar_set, name="group_avatar_set"),
    path("blocked/<int:block_id>/unblock/", views.address_unblock, name="address_unblock"),
    path("chats/<int:chat_id>/rename/", views.group_rename, name="group_rename"),
    path("chats/<int:chat_id>/members/add/", views.group_add_member, name="group_add_member"),
    path(
        "chats/<int:chat_id>/members/remove/",
        views.group_remove_member,
        name="group_remove_member",
    ),
    path("chats/<int:chat_id>/contact/", views.contact_info, name="contact_info"),
    path("chats/<int:chat_id>/", views.chat_detail, name="chat_detail"),
    path("chats/<int:chat_id>/messages/", views.chat_messages, name="chat_messages"),
    path("chats/<int:chat_id>/send/", views.chat_send, name="chat_send"),
    path("chats/<int:chat_id>/read/", views.chat_read, name="chat_read"),
    path("messages/<int:message_id>/", views.message_detail, name="message_detail"),
    path("messages/<int:message_id>/retry/", views.message_retry, name="message_retry"),
    path("messages/<int:message_id>/react/", views.message_react, name="message_react"),
    path("messages/<int:message_id>/delete/", views.message_delete, name="message_delete"),
    path("files/<int:attachment_id>/", views.attachment, name="attachment"),
]
