"""The fast MIME splitter builds exactly the tree the email package builds, or declines."""

import email
import email.policy
import random
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from mailcore.mime import IndexedMessage, split_message

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "mail").glob("*.eml"))


def tree(msg: Message):
    payload = msg._payload
    return (
        msg._headers,
        [tree(part) for part in payload] if isinstance(payload, list) else payload,
        msg.preamble,
        msg.epilogue,
        [type(defect).__name__ for defect in msg.defects],
        msg._default_type,
        msg._unixfrom,
        msg._charset,
    )


def email_package_tree(raw: bytes):
    return tree(email.message_from_bytes(raw, policy=email.policy.compat32))


def assert_same_or_declined(raw: bytes) -> bool:
    """True when the fast path took the mail; its tree must then be the email package's."""
    msg = split_message(raw)
    if msg is None:
        return False
    assert tree(msg) == email_package_tree(raw)
    return True


def mixed_mail(linesep: str = "\r\n") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Anna Meyer <anna@example.org>"
    mail["To"] = "bob@example.org"
    mail["Subject"] = (
        "Photos from the trip, with a subject long enough to be folded by the generator"
    )
    mail["Message-ID"] = "<m1@example.org>"
    mail.set_content("Hello Bob,\n\nhere they are.\n\n-- \nAnna\n")
    mail.add_alternative("<p>Hello Bob,</p><p>here they are.</p>", subtype="html")
    mail.add_attachment(b"\x89PNG" + bytes(range(256)) * 20, maintype="image", subtype="png",
                        filename="trip.png")  # fmt: skip
    return mail.as_bytes(policy=email.policy.default.clone(linesep=linesep))


NESTED = (
    b"From: a@example.org\r\nTo: b@example.org\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    b"This is a preamble.\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n'
    b"--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain \xc3\xa9\r\n"
    b"--inner\r\nContent-Type: text/html\r\n\r\n<b>HTML</b>\r\n"
    b"--inner--\r\ninner epilogue\r\n"
    b"--outer  \r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment;\r\n\tfilename*=utf-8''r%C3%A9sum%C3%A9.txt\r\n\r\n"
    b"data\r\n"
    b"--outer\r\n\r\nno headers at all\r\n"
    b"--outer--\r\nepilogue\r\n"
)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_is_split_as_the_email_package_does_or_declined(path):
    assert_same_or_declined(path.read_bytes())


@pytest.mark.parametrize(
    "raw",
    [
        mixed_mail("\r\n"),
        mixed_mail("\n"),
        NESTED,
        NESTED.replace(b"\r\n", b"\n"),
        b"From: a@example.org\r\nSubject: no body",
        b"From: a@example.org\r\nSubject: hi\r\n\r\n",
        b"From: a@example.org\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nbody without end",
        b"From: a@example.org\r\nSubject: raw \xc3\xbc 8-bit\r\n  folded\r\n\r\nbody\r\n",
        b"\r\nbody only",
        NESTED.replace(b"epilogue\r\n", b""),
        NESTED.replace(b"--outer--\r\nepilogue\r\n", b"--outer--"),
        NESTED.replace(b"This is a preamble.\r\n", b"\r\n"),
        NESTED.replace(b"This is a preamble.\r\n", b""),
    ],
    ids=lambda raw: raw[:40].decode("ascii", "replace"),
)
def test_well_formed_mail_takes_the_fast_path_with_the_same_tree(raw):
    assert assert_same_or_declined(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"From someone Sun Dec  6 12:00:00 2026\nFrom: a@example.org\n\nmbox",
        b"From: a@example.org\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.org\r\n\r\nx",
        b"From: a@example.org\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--",
        b"From: a@example.org\rSubject: bare CR\r\n\r\nbody",
        b"From: a@example.org\r\nSubject: form feed\r\n\r\nbody\x0cmore",
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n",
        b"From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
        b"From: a@example.org\r\nthis line is no header\r\nTo: b@example.org\r\n\r\nbody",
        b"  continued first\r\nFrom: a@example.org\r\n\r\nbody",
        b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
        NESTED.replace(b'boundary="inner"', b'boundary="outer"'),
        NESTED.replace(b"--outer\r\n\r\nno headers", b"--outer\r\n--outer\r\n\r\nno headers"),
    ],
    ids=lambda raw: raw[:40].decode("ascii", "replace"),
)
def test_mail_with_defects_or_special_parts_is_left_to_the_email_package(raw):
    assert split_message(raw) is None


def test_damaged_mail_is_split_as_the_email_package_does_or_declined():
    rng = random.Random(7)
    samples = [mixed_mail(), mixed_mail("\n"), NESTED] + [p.read_bytes() for p in FIXTURES[:20]]
    taken = 0
    for raw in samples:
        for _ in range(60):
            damaged = bytearray(raw)
            at = rng.randrange(len(damaged))
            roll = rng.random()
            if roll < 0.3:
                del damaged[at:]
            elif roll < 0.7:
                damaged[at:at] = rng.choice([b"\r\n", b"\n", b"--", b" ", b":", b"\t", b"\xc3"])
            else:
                del damaged[at : at + rng.randrange(1, 20)]
            taken += assert_same_or_declined(bytes(damaged))
    assert taken > 200  # most damage still leaves well-formed mail behind


def test_changing_a_header_drops_the_index():
    msg = split_message(mixed_mail())
    assert isinstance(msg, IndexedMessage)
    assert msg.get_content_type() == "multipart/mixed"
    msg.replace_header("Content-Type", "text/plain; charset=latin-1")
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "latin-1"
    msg["X-Added"] = "yes"
    assert msg.get("x-added") == "yes" and "X-ADDED" in msg
    del msg["Subject"]
    assert msg.get("subject") is None and "subject" not in msg
    msg.set_param("charset", "utf-8")
    assert msg.get_param("charset") == "utf-8"
    del msg["Content-Type"]
    msg.set_default_type("message/rfc822")
    assert msg.get_content_type() == "message/rfc822"
