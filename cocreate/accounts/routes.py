"""Account pages: thin handlers that parse, authorise, call accounts.service, render."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts import login_limits, service
from cocreate.accounts.models import User
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import LOCALES
from cocreate.i18n import gettext as _
from cocreate.security.access import PUBLIC, SIGNED_IN, current_user, db, route
from cocreate.security.ratelimit import Limit
from cocreate.security.redirects import safe_next
from cocreate.security.tokens import InvalidToken
from cocreate.sharing.arrivals import SESSION_KEY as SHARE_ARRIVAL
from cocreate.sharing.arrivals import attach_on_sign_in
from cocreate.web import add_flash, redirect, render


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _fresh_session(request: Request) -> None:
    """An empty session (a new CSRF token too) that keeps only the chosen language."""
    locale = request.session.get("locale")
    request.session.clear()
    if locale:
        request.session["locale"] = locale


def log_in(request: Request, user: User) -> None:
    """A fresh session for the account, keeping the chosen language; a visit the visitor
    made through someone's share link before signing in becomes theirs (sharing)."""
    arrival = request.session.get(SHARE_ARRIVAL)
    _fresh_session(request)
    if arrival is not None and user.id is not None:
        attach_on_sign_in(db(request), user.id, arrival)
    request.session["uid"] = user.id
    request.session["sv"] = user.session_version
    request.state.user = user


def _too_many(request: Request, template: str, context: Mapping[str, object]) -> Response:
    message = _("Too many attempts. Please wait a few minutes and try again.")
    return render(request, template, {**context, "errors": {"": message}}, status_code=429)


def signup(request: Request) -> Response:
    if current_user(request) is not None:
        return redirect("/")
    if request.method == "GET":
        return render(request, "accounts/signup.html", {"values": {}, "errors": {}})
    form = Form(form_read(request))
    email = form.email("email")
    display_name = form.text("display_name", max_length=80)
    password = form.password("password")
    values = {"email": form.raw("email")[:320], "display_name": display_name}
    settings = request.app.state.settings
    limit = Limit("signup", settings.signup_rate_limit)
    if not request.app.state.rate_limiter.hit(limit, client_ip(request)):
        return _too_many(request, "accounts/signup.html", {"values": values})
    try:
        form.check()
        service.register(
            session=db(request),
            tokens=request.app.state.tokens,
            base_url=settings.base_url,
            email=email,
            password=password,
            display_name=display_name,
            locale=request.state.locale,
            clock=request.app.state.clock,
        )
    except ValidationFailed as exc:
        return render(
            request,
            "accounts/signup.html",
            {"values": values, "errors": exc.errors},
            status_code=400,
        )
    return render(request, "accounts/check_email.html", {"email": email})


def verify(request: Request) -> Response:
    try:
        user = service.verify_email(
            session=db(request),
            tokens=request.app.state.tokens,
            token=request.path_params["token"],
            clock=request.app.state.clock,
        )
    except InvalidToken:
        return render(request, "accounts/link_invalid.html", status_code=400)
    viewer = current_user(request)
    if viewer is not None and viewer.id == user.id:
        request.state.user = user
    add_flash(request, _("Your email address is verified. Welcome!"))
    return redirect("/" if viewer is not None else "/login")


def resend_verification(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    limit = Limit("verify-resend", "3/hour")
    if request.app.state.rate_limiter.hit(limit, str(user.id)) and not user.is_verified:
        service.send_verification(
            session=db(request),
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            user=user,
        )
        db(request).commit()
    return redirect("/account", flash=_("We sent you a new verification link."), request=request)


def login(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return redirect(next_url)
    if request.method == "GET":
        return render(
            request, "accounts/login.html", {"values": {}, "errors": {}, "next": next_url}
        )
    form = Form(form_read(request))
    email = form.email("email")
    password = form.password("password")
    next_url = safe_next(form.raw("next"))
    values = {"email": form.raw("email")[:320]}
    context: dict[str, object] = {"values": values, "next": next_url}

    def check_password() -> User | None:
        if form.errors:
            return None
        return service.authenticate(session=db(request), email=email, password=password)

    attempt = login_limits.attempt_log_in(
        limiter=request.app.state.rate_limiter,
        settings=request.app.state.settings,
        email=email,
        address=client_ip(request),
        proof=form.raw("altcha"),
        now=request.app.state.clock.now(),
        check_password=check_password,
    )
    if attempt.outcome == login_limits.Outcome.REFUSED:
        return _too_many(request, "accounts/login.html", context)
    if attempt.outcome == login_limits.Outcome.CHALLENGED:
        return _login_challenge(request, context, attempt)
    if attempt.user is None:
        errors = {"": _("This email and password do not match an account.")}
        return render(
            request, "accounts/login.html", {**context, "errors": errors}, status_code=400
        )
    log_in(request, attempt.user)
    return redirect(next_url)


def _login_challenge(
    request: Request, context: Mapping[str, object], attempt: login_limits.LoginAttempt
) -> Response:
    """The log-in form again, with a proof of work that the browser solves while the owner
    types the password again (static/app.js); the password was not checked."""
    if attempt.proof_check is None:
        message = _(
            "Someone has been trying many passwords on this account, so your browser must "
            "solve a quick check before you log in. Type your password again."
        )
    else:
        message = _(
            "That check was not valid or took too long. Your browser is solving a new one: "
            "type your password again."
        )
    return render(
        request,
        "accounts/login.html",
        {**context, "errors": {"": message}, "challenge_json": json.dumps(attempt.to_solve)},
        status_code=400,
    )


def logout(request: Request) -> Response:
    """This browser's session only: see `sign_out_everywhere` for the others."""
    _fresh_session(request)
    return redirect("/", flash=_("You are logged out."), request=request)


def sign_out_everywhere(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    service.sign_out_everywhere(session=db(request), user=user)
    _fresh_session(request)
    message = _("You are signed out on every device, this one included. Log in again here.")
    return redirect("/login", flash=message, request=request)


def forgot_password(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "accounts/forgot.html", {"values": {}, "errors": {}})
    form = Form(form_read(request))
    email = form.email("email")
    if form.errors:
        return render(
            request,
            "accounts/forgot.html",
            {"values": {"email": form.raw("email")[:320]}, "errors": form.errors},
            status_code=400,
        )
    limit = Limit("forgot", "5/hour")
    if request.app.state.rate_limiter.hit(limit, client_ip(request), email):
        service.request_password_reset(
            session=db(request),
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            email=email,
        )
    return render(request, "accounts/check_email.html", {"email": email, "reset": True})


def reset_password(request: Request) -> Response:
    token = request.path_params["token"]
    session, tokens = db(request), request.app.state.tokens
    try:
        service.user_for_reset_token(session=session, tokens=tokens, token=token)
    except InvalidToken:
        return render(request, "accounts/link_invalid.html", status_code=400)
    if request.method == "GET":
        return render(request, "accounts/reset.html", {"errors": {}})
    form = Form(form_read(request))
    password = form.password("password")
    try:
        form.check()
        user = service.reset_password(
            session=session,
            tokens=tokens,
            token=token,
            password=password,
            clock=request.app.state.clock,
        )
    except ValidationFailed as exc:
        return render(request, "accounts/reset.html", {"errors": exc.errors}, status_code=400)
    log_in(request, user)
    return redirect("/", flash=_("Your password is changed."), request=request)


def account(request: Request) -> Response:
    return render(request, "accounts/account.html", {"errors": {}, "values": {}})


def change_email(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    form = Form(form_read(request))
    new_email = form.email("email")
    password = form.raw("password")
    try:
        form.check()
        service.request_email_change(
            session=db(request),
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            user=user,
            new_email=new_email,
            password=password,
        )
    except ValidationFailed as exc:
        return render(
            request,
            "accounts/account.html",
            {"errors": exc.errors, "values": {"email": form.raw("email")[:320]}},
            status_code=400,
        )
    message = _("We sent a confirmation link to %(email)s.") % {"email": new_email}
    return redirect("/account", flash=message, request=request)


def confirm_email_change(request: Request) -> Response:
    try:
        service.confirm_email_change(
            session=db(request),
            tokens=request.app.state.tokens,
            token=request.path_params["token"],
            clock=request.app.state.clock,
        )
    except InvalidToken:
        return render(request, "accounts/link_invalid.html", status_code=400)
    return redirect(
        "/account" if current_user(request) else "/login",
        flash=_("Your new email address is confirmed."),
        request=request,
    )


def delete_account(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    form = Form(form_read(request))
    if form.raw("confirm") != "yes":
        errors = {"confirm": _("Tick the box to confirm that you want to delete your account.")}
        return render(
            request, "accounts/account.html", {"errors": errors, "values": {}}, status_code=400
        )
    try:
        service.delete_account(
            session=db(request),
            user=user,
            password=form.raw("password"),
            clock=request.app.state.clock,
        )
    except ValidationFailed as exc:
        return render(
            request, "accounts/account.html", {"errors": exc.errors, "values": {}}, status_code=400
        )
    request.session.clear()
    return redirect("/", flash=_("Your account is deleted."), request=request)


def choose_language(request: Request) -> Response:
    form = Form(form_read(request))
    locale = form.raw("locale")
    if locale in LOCALES:
        request.session["locale"] = locale
        user = current_user(request)
        if user is not None:
            service.set_locale(session=db(request), user=user, locale=locale)
    return redirect(safe_next(form.raw("next")))


routes = [
    route("/signup", signup, access=PUBLIC, methods=["GET", "POST"], costly=True),
    route("/verify/{token}", verify, access=PUBLIC),
    route("/verify", resend_verification, access=SIGNED_IN, methods=["POST"]),
    route("/login", login, access=PUBLIC, methods=["GET", "POST"], costly=True),
    route("/logout", logout, access=PUBLIC, methods=["POST"]),
    route("/password/forgot", forgot_password, access=PUBLIC, methods=["GET", "POST"]),
    route(
        "/password/reset/{token}",
        reset_password,
        access=PUBLIC,
        methods=["GET", "POST"],
        costly=True,
    ),
    route("/account", account, access=SIGNED_IN),
    route("/account/email", change_email, access=SIGNED_IN, methods=["POST"], costly=True),
    route("/account/email/confirm/{token}", confirm_email_change, access=PUBLIC),
    route("/account/delete", delete_account, access=SIGNED_IN, methods=["POST"], costly=True),
    route("/account/sign-out-everywhere", sign_out_everywhere, access=SIGNED_IN, methods=["POST"]),
    route("/language", choose_language, access=PUBLIC, methods=["POST"]),
]
