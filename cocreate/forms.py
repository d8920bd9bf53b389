"""Reading form input safely: every value is cleaned, bounded, and errors name their field.

Anything a browser (or an attacker) can send must end as a form error, never a 500: values
that are files where text is expected, NUL bytes PostgreSQL would refuse, megabyte strings.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from cocreate.i18n import gettext as _

_ALLOWED_CONTROL = {"\n", "\t"}
# Bidi embeddings, overrides and isolates: in a one-line value (a name, a title) they make
# the text read as something else ("\u202egnp.exe" shows as "exe.png") and nothing closes
# them, so they are dropped. Multi-line text keeps them: right-to-left writers use them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ValidationFailed(Exception):
    """Errors by field name ("" for the form as a whole), already in the user's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Form:
    data: FormData
    errors: dict[str, str] = field(default_factory=dict)

    def raw(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    def text(
        self,
        name: str,
        *,
        max_length: int,
        required: bool = True,
        multiline: bool = False,
        min_length: int = 0,
    ) -> str:
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            self.errors[name] = _("Expected text here, not a file.")
            return ""
        text = clean_text(value or "", multiline=multiline)
        if required and not text:
            self.errors[name] = _("This field is required.")
        elif len(text) > max_length:
            self.errors[name] = _("Use at most %(n)d characters.") % {"n": max_length}
        elif text and len(text) < min_length:
            self.errors[name] = _("Use at least %(n)d characters.") % {"n": min_length}
        return text[:max_length]

    def password(self, name: str) -> str:
        """Passwords are not stripped or normalised beyond NFC: spaces can be meaningful."""
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            self.errors[name] = _("Expected text here, not a file.")
            return ""
        text = unicodedata.normalize("NFC", value or "")
        if not text:
            self.errors[name] = _("This field is required.")
        elif "\x00" in text:
            self.errors[name] = _("This contains characters that are not allowed.")
        return text

    def email(self, name: str) -> str:
        value = self.text(name, max_length=320)
        if name in self.errors:
            return value
        try:
            return normalise_email(value)
        except ValueError as exc:
            self.errors[name] = str(exc)
            return value

    def choice(self, name: str, choices: list[str] | tuple[str, ...]) -> str:
        value = self.raw(name)
        if value not in choices:
            self.errors[name] = _("Choose one of the options.")
        return value

    def check(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


async def read_form(request: Request) -> FormData:
    """The request's form, parsed once (Starlette caches it), or a 400 for what no browser sends.

    Starlette decodes multipart fields with the charset the client names: "undefined" or
    "punycode" raise a UnicodeError it does not catch (a 500), and "utf-7" can produce lone
    surrogates, which cannot be encoded back to UTF-8 to be shown, hashed or stored.
    """
    try:
        form = await request.form()
    except UnicodeError as exc:
        raise HTTPException(400, "undecodable form") from exc
    checked: object = getattr(request.state, "form", None)
    if checked is form:  # read and checked already
        return form
    for key, value in form.multi_items():
        texts = [key, value.filename or ""] if isinstance(value, UploadFile) else [key, value]
        if not all(_encodable(text) for text in texts):
            raise HTTPException(400, "undecodable form")
    request.state.form = form
    return form


def form_read(request: Request) -> FormData:
    """The form `read_form` already parsed and checked for this request, without awaiting:
    for synchronous code that runs after it (the vote's fast path)."""
    form = request.state.form
    assert isinstance(form, FormData)
    return form


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: str, *, multiline: bool = False) -> str:
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
    keep = _ALLOWED_CONTROL if multiline else {" "}
    drop = frozenset("\u2028\u2029") if multiline else _BIDI_CONTROLS | {"\u2028", "\u2029"}
    text = "".join(
        c for c in text if c in keep or not (unicodedata.category(c) in ("Cc", "Cs") or c in drop)
    )
    return text.strip()


def normalise_email(value: str) -> str:
    """One spelling per mailbox: NFKC, trimmed, lower case; raises ValueError with a message."""
    text = unicodedata.normalize("NFKC", value).strip()
    if "\ufffd" in text:  # a replacement character: the address was mangled on the way
        raise ValueError(_("Enter a valid email address, like name@example.com."))
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(_("Enter a valid email address, like name@example.com.")) from None
    return checked.normalized.lower()
