"""Sign-in for the reader-study app: a login page, a signed cookie, and who may see what.

Readers sign in with their reader id and password, or with the invite link
``/?invite=TOKEN`` (or ``/login?invite=TOKEN``) from ``ganaudit study create``; the admin signs in at
``/login?next=/admin`` with the admin password. Success sets a signed, HTTP-only,
``SameSite=Strict`` cookie holding the role (``reader:<id>`` or ``admin``). Bokeh asks
``StudyAuth.get_user`` on every page and websocket request, so nothing of the app is reached
without that cookie, and ``authorize`` keeps readers off ``/admin`` (HTTP 403).

The cookie secret lives in ``STUDY/.cookie_secret`` (mode 0600) so that a reader stays signed
in across a server restart and simply resumes.
"""

from __future__ import annotations

import html
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler, decode_signed_value

if TYPE_CHECKING:
    from reader_study.study import Study

COOKIE = "ganaudit_user"
ADMIN = "admin"
_COOKIE_DAYS = 14
_SECRET_FILE = ".cookie_secret"


def load_cookie_secret(study_dir: Path) -> str:
    """The study's cookie-signing secret, created on first use (``STUDY/.cookie_secret``, 0600).

    Falls back to a secret held in memory when the study folder is read-only (readers then
    sign in again after a restart).
    """
    path = Path(study_dir) / _SECRET_FILE
    try:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 32:
            return secret
    except OSError:
        pass
    secret = secrets.token_hex(32)
    tmp = path.with_name(f"{_SECRET_FILE}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secret)
            fh.flush()
            os.fsync(fh.fileno())
        # Two servers started at once must agree: keep the first secret written.
        try:
            os.link(tmp, path)
        except FileExistsError:
            secret = path.read_text(encoding="ascii").strip()
        finally:
            tmp.unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)
    return secret


def role_from_cookie(value: str | bytes | None, secret: str, study: "Study") -> str | None:
    """Verify a signed cookie value; return ``"admin"``, ``"reader:<id>"`` or None.

    A reader who is no longer enrolled (study re-created) gets None.
    """
    if not value:
        return None
    decoded = decode_signed_value(secret, COOKIE, value, max_age_days=_COOKIE_DAYS)
    if decoded is None:
        return None
    role = decoded.decode("utf-8")
    if role == ADMIN:
        return role
    if role.startswith("reader:") and role[len("reader:"):] in study.reader_ids:
        return role
    return None


def reader_id_of(role: str | None) -> str | None:
    """Reader id in a ``reader:<id>`` role, else None."""
    if role and role.startswith("reader:"):
        return role[len("reader:"):]
    return None


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #111; color: #eee; display: flex;
       justify-content: center; align-items: center; min-height: 100vh; margin: 0; }}
form {{ background: #1d1d1d; padding: 2em 2.5em; border-radius: 8px; min-width: 18em; }}
label {{ display: block; margin-top: 1em; }}
input {{ width: 100%; padding: .5em; margin-top: .3em; box-sizing: border-box;
        background: #000; color: #eee; border: 1px solid #555; border-radius: 4px; }}
button {{ margin-top: 1.5em; width: 100%; padding: .6em; font-size: 1em; }}
.error {{ color: #ff8080; margin-top: 1em; }}
a {{ color: #9cf; }}
</style></head><body>
<form method="post" action="./login" id="login-form">
<h2>{heading}</h2>
{fields}
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">Sign in</button>
<div class="error" id="login-error">{error}</div>
<p><small>{switch}</small></p>
</form></body></html>
"""


def _safe_next(value: str | None) -> str:
    """Only the app's own two pages are valid targets after sign-in (no open redirect)."""
    return "/admin" if value and value.rstrip("/").endswith("/admin") else "/"


def _invite_token(handler: RequestHandler) -> str | None:
    """Invite token of ``/login?invite=T`` (or ``?token=T``), also when it arrives as
    ``/login?next=/?invite=T`` after a redirect from ``/?invite=T``."""
    from urllib.parse import parse_qs, urlsplit

    token = handler.get_argument("invite", None) or handler.get_argument("token", None)
    if token is None:
        query = parse_qs(urlsplit(handler.get_argument("next", "") or "").query)
        token = (query.get("invite") or query.get("token") or [None])[0]
    return token


def make_auth(study: "Study", secret: str) -> AuthProvider:
    """The Bokeh auth provider of one served study."""

    class LoginHandler(RequestHandler):
        def _page(self, *, next_url: str, error: str = "", status: int = 200) -> None:
            admin = next_url == "/admin"
            if admin:
                fields = ('<label>Admin password<input type="password" name="password" '
                          'id="password" autocomplete="current-password" autofocus></label>')
                switch = '<a href="./login">Reader sign-in</a>'
            else:
                fields = ('<label>Reader id<input name="reader" id="reader" autocomplete="username" '
                          'autofocus></label><label>Password<input type="password" name="password" '
                          'id="password" autocomplete="current-password"></label>')
                switch = '<a href="./login?next=/admin">Admin sign-in</a>'
            heading = "Study admin" if admin else "Reader sign-in"
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(_PAGE.format(title=heading, heading=heading, fields=fields,
                                     next=html.escape(next_url), error=html.escape(error),
                                     switch=switch))

        def _sign_in(self, role: str, next_url: str, *, via_page: bool = False) -> None:
            self.set_signed_cookie(COOKIE, role, expires_days=_COOKIE_DAYS, httponly=True,
                                   samesite="Strict", path="/")
            if not via_page:
                self.redirect("." + next_url)
                return
            # An invite link is usually clicked in a mail or chat page: a redirect would still
            # count as that site's navigation, and the browser would withhold the Strict cookie
            # from it. A page of our own that moves on is a same-site navigation.
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            target = html.escape("." + next_url)
            self.finish(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" '
                        f'content="0;url={target}"><title>Signing in</title>'
                        f'<p>Signed in. <a href="{target}">Continue to the study</a>.</p>')

        async def _check(self, check, *args) -> Any:
            # Password hashing (scrypt) takes tens of milliseconds of CPU: off the event loop,
            # so that sign-in attempts never hold up readers who are answering.
            return await IOLoop.current().run_in_executor(None, check, *args)

        async def get(self) -> None:
            token = _invite_token(self)
            if token is not None:
                reader_id = await self._check(study.authenticate_token, token)
                if reader_id is None:
                    self._page(next_url="/", status=403,
                               error="This invite link is not valid for this study; ask the "
                                     "study admin for a new link or sign in with your password.")
                    return
                self._sign_in(f"reader:{reader_id}", "/", via_page=True)
                return
            self._page(next_url=_safe_next(self.get_argument("next", None)))

        async def post(self) -> None:
            next_url = _safe_next(self.get_argument("next", None))
            password = self.get_argument("password", "")
            if next_url == "/admin":
                if await self._check(study.authenticate_admin, password):
                    self._sign_in(ADMIN, "/admin")
                else:
                    self._page(next_url=next_url, status=403,
                               error="Wrong admin password; use the one in STUDY/credentials.txt.")
                return
            reader_id = self.get_argument("reader", "").strip()
            if await self._check(study.authenticate, reader_id, password):
                self._sign_in(f"reader:{reader_id}", "/")
            else:
                # Same message for an unknown reader and a wrong password: no id guessing.
                self._page(next_url=next_url, status=403,
                           error="Unknown reader id or wrong password; check the credentials "
                                 "the study admin gave you.")

    class LogoutHandler(RequestHandler):
        def get(self) -> None:
            self.clear_cookie(COOKIE, path="/")
            self.redirect("./login")

    class StudyAuth(AuthProvider):
        @property
        def get_user(self):
            def get_user(handler: RequestHandler) -> str | None:
                return role_from_cookie(handler.get_cookie(COOKIE), secret, study)
            return get_user

        @property
        def login_url(self) -> str:
            return "/login"

        @property
        def login_handler(self) -> type[RequestHandler]:
            return LoginHandler

        @property
        def logout_url(self) -> str:
            return "/logout"

        @property
        def logout_handler(self) -> type[RequestHandler]:
            return LogoutHandler

    return StudyAuth()


def make_authorize(study: "Study", secret: str):
    """Panel ``authorize_callback``: readers get ``/``, the admin gets ``/admin``.

    A reader asking for ``/admin`` gets HTTP 403; the admin asking for ``/`` is sent to
    ``/admin``.
    """

    def authorize(user_info: Any, path: str) -> bool | str:
        import panel as pn

        role = role_from_cookie(pn.state.cookies.get(COOKIE), secret, study)
        if path.rstrip("/").endswith("/admin"):
            return role == ADMIN
        if role == ADMIN:
            return "./admin"
        return reader_id_of(role) is not None

    return authorize


def session_role(study: "Study", secret: str) -> str | None:
    """Role of the current Panel session (read from the request that opened it)."""
    import panel as pn

    return role_from_cookie(pn.state.cookies.get(COOKIE), secret, study)
