"""Whatever a browser or an attacker posts to a form, the answer is a form error or a 4xx page
in the visitor's language: never a 500, and the database is left as it was.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts import service as accounts_service
from cocreate.accounts.models import User
from cocreate.security.bodylimit import MAX_BODY_BYTES
from tests.conftest import PASSWORD, csrf_from, log_in

MEGABYTE_VALUE = "m" * 1_000_000  # a megabyte, just under Starlette's 1 MiB per-field cap
BOUNDARY = "cocreate-test-boundary-7MA4YWxkTrZu0gW"


@dataclass(frozen=True)
class FormSpec:
    name: str
    path: str  # "{token}" is replaced by a fresh password-reset token
    page: str  # a page showing a form, to read the CSRF token from ("{path}": the form itself)
    fields: tuple[str, ...]
    who: str = "anonymous"  # or "verified", "unverified": who is signed in
    # Forms without free input (log out, language, resend the link) answer with a redirect.
    redirects: bool = False


FORMS = [
    FormSpec("signup", "/signup", "/signup", ("email", "display_name", "password")),
    FormSpec("login", "/login", "/login", ("email", "password", "next")),
    FormSpec("forgot", "/password/forgot", "/password/forgot", ("email",)),
    FormSpec("reset", "/password/reset/{token}", "{path}", ("password",)),
    FormSpec("change_email", "/account/email", "/account", ("email", "password"), "verified"),
    FormSpec("delete", "/account/delete", "/account", ("password", "confirm"), "verified"),
    FormSpec("language", "/language", "/login", ("locale", "next"), redirects=True),
    FormSpec("logout", "/logout", "/account", (), "verified", redirects=True),
    FormSpec("verify", "/verify", "/account", (), "unverified", redirects=True),
]
TEXT_FORMS = [f for f in FORMS if not f.redirects]


@dataclass
class Target:
    """A client ready to post one form: signed in as needed, CSRF token at hand."""

    spec: FormSpec
    client: TestClient
    path: str
    token: str

    def post(self, body: bytes, content_type: str, **headers: str) -> Any:
        return self.client.post(
            self.path, content=body, headers={"content-type": content_type, **headers}
        )

    def post_fields(self, fields: list[tuple[str, str]], **headers: str) -> Any:
        return self.post(
            urlencoded([("csrf_token", self.token), *fields]),
            "application/x-www-form-urlencoded",
            **headers,
        )

    def post_multipart(
        self, parts: list[tuple[str, bytes, str | None]], charset: str | None = None
    ) -> Any:
        body, content_type = multipart(
            [("csrf_token", self.token.encode(), None), *parts], charset=charset
        )
        return self.post(body, content_type)


def urlencoded(fields: list[tuple[str, str]]) -> bytes:
    """Percent-encode like a browser, but let lone surrogates through as their raw bytes."""

    def enc(value: str) -> str:
        return quote_plus(value.encode("utf-8", "surrogatepass"))

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in fields).encode("ascii")


def multipart(
    parts: list[tuple[str, bytes, str | None]], *, charset: str | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body; a part with a filename is a file upload."""
    chunks = []
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        chunks.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode())
        if filename is not None:
            chunks.append(b"Content-Type: application/octet-stream\r\n")
        chunks.append(b"\r\n" + value + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    if charset:
        content_type += f"; charset={charset}"
    return b"".join(chunks), content_type


@pytest.fixture
def target_for(
    client: TestClient, make_user: Callable[..., User], app: Any
) -> Callable[[FormSpec], Target]:
    def prepare(spec: FormSpec) -> Target:
        if spec.who != "anonymous":
            log_in(client, make_user("member@example.com", verified=spec.who == "verified"))
        path = spec.path
        if "{token}" in path:
            user = make_user("reset@example.com")
            reset_token = app.state.tokens.make(
                "reset", accounts_service._link_data(app.state.tokens, "reset", user, sv=0)
            )
            path = path.replace("{token}", reset_token)
        page = path if spec.page == "{path}" else spec.page
        return Target(spec, client, path, csrf_from(client, page))

    return prepare


def users_table(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT id, email, display_name, password_hash, pending_email, locale,"
                    " email_verified_at, is_admin, disabled, deleted_at, session_version"
                    " FROM users ORDER BY id"
                )
            )
        ]


@dataclass
class Consistent:
    """Bad input must not leave half-written rows or change an account."""

    engine: Engine
    before: list[tuple[Any, ...]]

    def check(self) -> None:
        assert users_table(self.engine) == self.before, "bad input changed the users table"


def consistent(engine: Engine) -> Consistent:
    return Consistent(engine, users_table(engine))


def assert_handled(response: Any, spec: FormSpec, *, lang: str = "en", case: str = "") -> None:
    """A form error or a 4xx page in the visitor's language, or (for forms without free
    input) a redirect to a page of this site; never a 500."""
    what = f"{spec.name} ({case})" if case else spec.name
    status = response.status_code
    assert status < 500, f"{what}: {status}\n{response.text[:2000]}"
    if status == 303:
        assert spec.redirects, f"{what} accepted bad input"
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), location
        return
    assert 400 <= status < 500, f"{what}: {status}"
    assert response.headers["content-type"].startswith("text/html"), what
    assert f'<html lang="{lang}">' in response.text, what
    html = response.text
    shows_error = 'aria-invalid="true"' in html or 'class="form-error"' in html
    assert shows_error or 'class="status-code"' in html, f"{what}: no error shown\n{html}"
    assert "Traceback" not in html, what


# --- every form, every kind of bad input -------------------------------------------------


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_all_fields_empty(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    response = target.post_fields([(name, "") for name in spec.fields])
    assert_handled(response, spec)
    if spec.name in ("signup", "forgot", "reset", "change_email"):
        assert "This field is required." in response.text
    db.check()


@pytest.mark.parametrize("spec", TEXT_FORMS, ids=lambda f: f.name)
def test_all_fields_empty_in_french(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    response = target.post_fields(
        [(name, "") for name in spec.fields], **{"accept-language": "fr-FR,fr;q=0.9"}
    )
    assert_handled(response, spec, lang="fr")
    expected = {
        "login": "Cette adresse e-mail et ce mot de passe ne correspondent à aucun compte.",
        "delete": "Cochez la case pour confirmer que vous voulez supprimer votre compte.",
    }.get(spec.name, "Ce champ est obligatoire.")
    assert expected in response.text
    assert "This field is required." not in response.text
    db.check()


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_missing_fields(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    assert_handled(target.post_fields([]), spec)
    db.check()


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_a_megabyte_in_every_field(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    response = target.post_fields([(name, MEGABYTE_VALUE) for name in spec.fields])
    assert_handled(response, spec)
    if spec.name in ("signup", "forgot", "change_email"):
        assert "Use at most 320 characters." in response.text
    if spec.name == "reset":
        assert "Use at most 200 characters." in response.text
    assert len(response.content) < 100_000, "the page must not echo a megabyte back"
    db.check()


@pytest.mark.parametrize("spec", TEXT_FORMS, ids=lambda f: f.name)
def test_a_field_over_starlettes_part_limit_is_a_400_page(
    spec: FormSpec, target_for: Any, engine: Engine
) -> None:
    target = target_for(spec)
    db = consistent(engine)
    response = target.post_fields([(spec.fields[0], "x" * (2 * 1024 * 1024))])
    assert response.status_code == 400
    assert_handled(response, spec)
    assert "Bad request" in response.text
    db.check()


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_a_file_where_text_is_expected(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    response = target.post_multipart(
        [(name, b"\x89PNG\r\n\x1a\n\x00\x00binary", "picture.png") for name in spec.fields]
    )
    assert_handled(response, spec)
    if spec.name in ("signup", "forgot", "reset", "change_email"):
        assert "Expected text here, not a file." in response.text
    db.check()


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_repeated_fields(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    fields = []
    for name in spec.fields:
        fields += [(name, "first@example.com"), (name, ""), (name, "x" * 400)]
    assert_handled(target.post_fields(fields), spec)
    db.check()


INVALID_EMAILS = [
    "not-an-email",
    "a@b",
    "@example.com",
    "ana@@example.com",
    "ana@exa mple.com",
    "ana@.com",
    "ana@example.com\ufffd",
]


@pytest.mark.parametrize("spec", [f for f in FORMS if "email" in f.fields], ids=lambda f: f.name)
def test_invalid_email(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    for email in INVALID_EMAILS:
        values = {"email": email, "password": "x" * 12, "display_name": "Ana"}
        response = target.post_fields([(name, values.get(name, "")) for name in spec.fields])
        assert_handled(response, spec, case=email)
        if spec.name != "login":  # log-in answers the same for any wrong pair, by design
            assert "Enter a valid email address" in response.text, email
    db.check()


BAD_BODIES = {
    "invalid utf-8": b"email=%FF%FE%C3%28ana%40example.com&password=%E9t%E9&display_name=%C0%AF",
    "raw bytes": b"email=\xff\xfe\x00ana&password=\x80\x81&display_name=\xc3",
    "broken percent signs": b"email=%&password=%Z&display_name=%%41%4&next=%2",
    "surrogate bytes": b"email=%ED%A0%80&password=%ED%BF%BF%ED%A0%80&display_name=%ED%A0%80",
    "no equals signs": b"email&password&&&=&==",
}


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_bad_utf8_and_percent_encoding(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    for case, body in BAD_BODIES.items():
        full = f"csrf_token={target.token}&".encode() + body
        response = target.post(full, "application/x-www-form-urlencoded")
        assert_handled(response, spec, case=case)
    db.check()


STRANGE_CHARSETS = {
    # utf-7 decodes "+2AA-" to a lone surrogate, which no UTF-8 page can show or store.
    "utf-7 surrogate": ("utf-7", b"+2AA-ana@example.com"),
    # Python's "undefined" codec raises a bare UnicodeError Starlette does not catch.
    "undefined codec": ("undefined", b"ana@example.com"),
    "punycode": ("punycode", b"\\x\\y"),
    # An unknown charset falls back to latin-1: a short value, so no form accepts it.
    "unknown codec": ("no-such-charset", b"caf\xe9"),
}


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_multipart_in_a_strange_charset(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    for case, (charset, value) in STRANGE_CHARSETS.items():
        parts = [(name, value, None) for name in spec.fields]
        response = target.post_multipart(parts, charset=charset)
        assert_handled(response, spec, case=case)
    db.check()


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_malformed_multipart(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    for body, content_type in [
        (b"--x\r\nnot a part", "multipart/form-data"),  # no boundary
        (
            b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--\r\n",  # a part without a name
            "multipart/form-data; boundary=x",
        ),
        (b"garbage without any boundary", f"multipart/form-data; boundary={BOUNDARY}"),
        (b'{"email": "ana@example.com"}', "application/json"),
    ]:
        response = target.post(body, content_type, **{"x-csrftoken": target.token})
        assert_handled(response, spec)
    db.check()


TRICKY = {
    "nul bytes": "ana\x00@example.com\x00\x00",
    "lone surrogates": "\ud800ana\udfff@example.com",
    "rtl override": "\u202eanA\u202c moc.elpmaxe@ana",
    "zero-width joiners": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466\u200b\u2060",
    "combining marks": "Z" + "\u0335\u0334\u0336\u0301\u0308" * 200,
    "emoji": "\U0001f642\U0001f44d\U0001f3fd\U0001f1eb\U0001f1f7" * 20,
    "20,000-character line": "line " * 4_000,
    "line separators": "ana\u2028\u2029\r\n\x0b\x0c\x1b[31m",
}


@pytest.mark.parametrize("spec", FORMS, ids=lambda f: f.name)
def test_unicode_tricky_values(spec: FormSpec, target_for: Any, engine: Engine) -> None:
    target = target_for(spec)
    db = consistent(engine)
    accepted = False
    for case, value in TRICKY.items():
        response = target.post_fields([(name, value) for name in spec.fields])
        if spec.name in ("forgot", "reset") and response.status_code in (200, 303):
            # Once cleaned this is a fine address (forgot answers the same for any address)
            # or a fine password (a reset link works once; later posts get a 400 page).
            accepted = True
            continue
        assert_handled(response, spec, case=case)
    assert_stored_text_is_clean(engine)
    if not accepted:
        db.check()


def assert_stored_text_is_clean(engine: Engine) -> None:
    for row in users_table(engine):
        for value in row:
            if isinstance(value, str):
                assert value.encode("utf-8")  # no lone surrogates
                assert not any(unicodedata.category(c) == "Cc" for c in value), row
                assert "\u202e" not in value and "\ufffd" not in value, row


def test_unicode_tricky_values_through_multipart(target_for: Any, engine: Engine) -> None:
    spec = FORMS[0]
    target = target_for(spec)
    db = consistent(engine)
    for case, value in TRICKY.items():
        raw = value.encode("utf-8", "surrogatepass")
        response = target.post_multipart([(name, raw, None) for name in spec.fields])
        assert_handled(response, spec, case=case)
    db.check()


# --- what an accepted value becomes --------------------------------------------------------


def test_sign_up_stores_a_clean_display_name(target_for: Any, session: Session) -> None:
    """NUL bytes (PostgreSQL refuses them) and bidi overrides (they make a name read as
    another) are removed; emoji, joiners and accents stay."""
    target = target_for(FORMS[0])
    name = "\u202eZo\u0065\u0301\x00 \U0001f469\u200d\U0001f52c"
    response = target.post_fields(
        [("email", "zoe@example.com"), ("display_name", name), ("password", PASSWORD)]
    )
    assert response.status_code == 200, response.text
    user = session.exec(select(User).where(User.email == "zoe@example.com")).one()
    assert user.display_name == "Zo\u00e9 \U0001f469\u200d\U0001f52c"


def test_sign_up_with_only_invisible_characters_needs_a_name(target_for: Any) -> None:
    target = target_for(FORMS[0])
    response = target.post_fields(
        [("email", "zoe@example.com"), ("display_name", "\x00\u202e\u202c"), ("password", PASSWORD)]
    )
    assert response.status_code == 400
    assert "This field is required." in response.text


# --- the request body size limit ----------------------------------------------------------


def test_a_body_over_the_limit_is_a_friendly_413(target_for: Any, engine: Engine) -> None:
    target = target_for(FORMS[0])
    db = consistent(engine)
    body = f"csrf_token={target.token}&email=".encode() + b"a" * MAX_BODY_BYTES
    response = target.post(body, "application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "What you sent is too large." in response.text
    response = target.post(body, "application/x-www-form-urlencoded", **{"accept-language": "fr"})
    assert response.status_code == 413
    assert "Ce que vous avez envoyé est trop volumineux." in response.text
    db.check()


def test_a_streamed_body_without_length_is_cut_at_the_limit(target_for: Any) -> None:
    target = target_for(FORMS[0])
    chunk = b"a" * (1024 * 1024)

    def stream() -> Iterator[bytes]:
        yield f"csrf_token={target.token}&picture=".encode()
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk

    response = target.client.post(
        "/signup",
        content=stream(),
        headers={"content-type": "multipart/form-data; boundary=" + BOUNDARY},
    )
    assert response.status_code == 413
    assert "What you sent is too large." in response.text


def test_a_lying_content_length_is_refused_before_reading(target_for: Any) -> None:
    target = target_for(FORMS[0])
    response = target.post(
        b"csrf_token=x",
        "application/x-www-form-urlencoded",
        **{"content-length": str(MAX_BODY_BYTES + 1)},
    )
    assert response.status_code == 413


def test_a_content_length_of_thousands_of_digits_is_a_413(target_for: Any) -> None:
    # More digits than int() converts by default (4,300): refused by length, not a 500.
    target = target_for(FORMS[0])
    response = target.post(
        b"csrf_token=x", "application/x-www-form-urlencoded", **{"content-length": "9" * 5000}
    )
    assert response.status_code == 413


def test_a_body_under_the_limit_is_read(target_for: Any) -> None:
    target = target_for(FORMS[0])
    body, content_type = multipart(
        [
            ("csrf_token", target.token.encode(), None),
            ("picture", b"p" * (5 * 1024 * 1024), "big.png"),
            ("email", b"not an email", None),
        ]
    )
    response = target.post(body, content_type)
    assert response.status_code == 400
    assert "Enter a valid email address" in response.text


# --- property: no text makes sign-up or log-in fail --------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=300)
field_value = st.one_of(any_text, st.emails(), st.just(PASSWORD), st.just(""))


@hypothesis_settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=st.sampled_from([FORMS[0], FORMS[1]]),
    values=st.fixed_dictionaries(
        {"email": field_value, "display_name": any_text, "password": field_value, "next": any_text}
    ),
    as_multipart=st.booleans(),
)
def test_no_text_in_sign_up_or_log_in_gives_a_500(
    client: TestClient, app: Any, form: FormSpec, values: dict[str, str], as_multipart: bool
) -> None:
    app.state.rate_limiter.reset()  # every example gets a fair go, not a 429
    target = Target(form, client, form.path, csrf_from(client, form.page))
    if as_multipart:
        parts = [(n, values[n].encode("utf-8", "surrogatepass"), None) for n in form.fields]
        response = target.post_multipart(parts)
    else:
        response = target.post_fields([(n, values[n]) for n in form.fields])
    assert response.status_code < 500, response.text
    if response.status_code == 303:  # only a real log-in redirects
        assert form.name == "login" and values["password"] == PASSWORD
        client.cookies.clear()
    else:
        assert response.status_code in (200, 400, 429), response.status_code


@pytest.mark.parametrize("path", ["/login", "/signup", "/password/forgot", "/", "/healthz"])
def test_head_is_a_get_without_a_body(client: TestClient, app: Any, path: str) -> None:
    """Not a form post: a monitor sending HEAD /login must not count as failed log-ins."""
    for _ in range(12):  # more than the log-in limit allows failures
        response = client.head(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.content == b""
    assert client.get(path).status_code == 200
