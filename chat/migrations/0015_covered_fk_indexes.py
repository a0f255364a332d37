import django.db.models.deletion
from django.db import migrations, models

# The foreign keys whose own index a composite index already leads with:
# (model, field, what it points to, related_name, table, column, the index Django made).
COVERED = [
    ("attachment", "message", "chat.message", "attachments",
     "chat_attachment", "message_id", "chat_attachment_message_id_bca6b8de"),
    ("message", "account", "accounts.mailaccount", "messages",
     "chat_message", "account_id", "chat_message_account_id_5eab7cf5"),
    ("message", "chat", "chat.chat", "messages",
     "chat_message", "chat_id", "chat_message_chat_id_21483fa7"),
    ("messagecopy", "account", "accounts.mailaccount", "+",
     "chat_messagecopy", "account_id", "chat_messagecopy_account_id_e997c498"),
]  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_profile"),
        ("chat", "0014_vs_is_chat_index"),
    ]

    # Only the indexes go: AlterField alone would also drop and re-add each foreign key,
    # checking every row of the largest tables again.
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
                )
                for *_, table, column, index in COVERED
            ],
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name=name,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name=related_name,
                        to=to,
                    ),
                )
                for model, name, to, related_name, *_ in COVERED
            ],
        )
    ]
