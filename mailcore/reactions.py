"""Reactions (RFC 9078) as Delta Chat sends them: a text part with ``Content-Disposition: reaction``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailcore.addresses import Address
from mailcore.compose import OutgoingMessage, compose_email
from mailcore.message_ids import normalize_message_id
from mailcore.parse import ParsedMessage

__all__ = ["Reaction", "build_reaction", "parse_reaction"]

# DC's reaction.rs drops anything this long (in UTF-8 bytes) instead of showing it.
MAX_EMOJI_BYTES = 30


@dataclass(frozen=True)
class Reaction:
    """A sender's reactions to one message; they replace that sender's earlier ones."""

    target_message_id: str
    emojis: tuple[str, ...]
    sender: str | None

    @property
    def is_retraction(self) -> bool:
        """Whether this removes the sender's reaction (DC's XEP-0444 reading of an empty body)."""
        return not self.emojis


def parse_reaction(parsed: ParsedMessage) -> Reaction | None:
    """Return the reaction a message carries, or None when it is not one or has no target."""
    if not parsed.is_reaction or not parsed.in_reply_to:
        return None
    lines = parsed.text.strip().split("\n", 1)
    tokens = (token for token in lines[0].split() if len(token.encode()) < MAX_EMOJI_BYTES)
    return Reaction(
        target_message_id=parsed.in_reply_to[0],
        emojis=tuple(dict.fromkeys(tokens)),
        sender=parsed.from_.addr if parsed.from_ else None,
    )


def build_reaction(
    from_: Address,
    to: tuple[Address, ...],
    target_message_id: str,
    emoji: str,
    *,
    message_id: str,
    date: datetime,
    references: tuple[str, ...] = (),
    subject: str = "",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """Build a reaction to ``target_message_id``; an empty ``emoji`` retracts our reaction."""
    target = normalize_message_id(target_message_id)
    if target is None:
        raise ValueError(f"not a Message-ID: {target_message_id!r}")
    emoji = emoji.strip()
    if any(character.isspace() for character in emoji) or len(emoji.encode()) >= MAX_EMOJI_BYTES:
        # DC keeps only the first word of a reaction and drops long ones (reaction.rs).
        raise ValueError(f"a reaction is one emoji: {emoji!r}")
    mail = compose_email(
        OutgoingMessage(
            from_=from_,
            to=to,
            message_id=message_id,
            date=date,
            subject=subject,
            text=emoji,
            in_reply_to=target,
            references=references or (target,),
            extra_headers=extra_headers,
        )
    )
    # RFC 9078 2: the reaction part is marked by its disposition; plain clients show the emoji.
    mail["Content-Disposition"] = "reaction"
    return mail.as_bytes()
