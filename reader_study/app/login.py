"""Sign-in for the reader-study app: a login page, server-side sessions, and who may see what.

Readers sign in with their reader id and password, or with the invite link
``/?invite=TOKEN`` (or ``/login?invite=TOKEN``) from ``ganaudit study create``; the admin signs in at
``/login?next=/admin`` with the admin password. Success stores a new random session id in the
answers database (``sessions`` table: its hash, the study, the role ``reader:<id>`` or
``admin``, expiry) and sets a signed, HTTP-only, ``SameSite=Strict`` cookie holding that id.
Bokeh asks ``StudyAuth.get_user`` on every page and websocket request, so nothing of the app is
reached without a live session, and ``authorize`` keeps readers off ``/admin`` (HTTP 403).

- Signing out (a POST from the app's own pages) revokes the session in the database: the old
  cookie opens nothing any more. A re-created study has a new study id, so no earlier session
  is valid for it.
- Sign-in and sign-out refuse cross-site requests: the ``Origin`` header (or, without one, the
  ``Referer``) must name this server. A page on another site can neither sign a reader in
  under someone else's name nor sign them out. An invite link opens a page of ours that signs
  in with a same-site POST; a reader already signed in under another name is asked first.
- Failed sign-ins are throttled (``SignInThrottle``): after a few failures for one reader id,
  or more from one client address, further attempts get HTTP 429 without any password check,
  so guessing is slow and costs the server no CPU.

The cookie secret lives in ``STUDY/.cookie_secret`` (mode 0600) and sessions in the answers
database, so a reader stays signed in across a server restart and simply resumes.
"""

from __future__ import annotations

import html
import math
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bokeh.server.auth_provider import AuthProvider
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler, decode_signed_value

if TYPE_CHECKING:
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

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


class Sessions:
    """Server-side sign-in sessions of one served study.

    The cookie holds a signed random session id; the role lives in the answers database, so
    revoking the row (sign-out) ends the cookie's use for good.
    """

    def __init__(self, study: "Study", store: "AnswerStore", secret: str):
        self.study = study
        self.store = store
        self.secret = secret

    def start(self, handler: RequestHandler, role: str) -> None:
        """Open a session for ``role`` and set its cookie on ``handler``'s response."""
        sid = self.store.create_session(self.study.study_id, role, days=_COOKIE_DAYS)
        handler.set_signed_cookie(COOKIE, sid, expires_days=_COOKIE_DAYS, httponly=True,
                                  samesite="Strict", path="/")

    def _sid(self, value: str | bytes | None) -> str | None:
        if not value:
            return None
        decoded = decode_signed_value(self.secret, COOKIE, value, max_age_days=_COOKIE_DAYS)
        return decoded.decode("utf-8", "replace") if decoded is not None else None

    def role(self, value: str | bytes | None) -> str | None:
        """``"admin"``, ``"reader:<id>"`` or None for a cookie value (signed session id).

        None for a forged, expired or revoked session, one of another study, and a reader who
        is no longer enrolled.
        """
        sid = self._sid(value)
        if sid is None:
            return None
        role = self.store.session_role(self.study.study_id, sid)
        if role == ADMIN:
            return role
        if role and role.startswith("reader:") and role[len("reader:"):] in self.study.reader_ids:
            return role
        return None

    def end(self, handler: RequestHandler) -> None:
        """Revoke the session of ``handler``'s cookie and clear the cookie."""
        sid = self._sid(handler.get_cookie(COOKIE))
        if sid is not None:
            self.store.revoke_session(sid)
        handler.clear_cookie(COOKIE, path="/")


class SignInThrottle:
    """Failed sign-ins per reader id and per client address, over a sliding window.

    ``retry_after`` is 0 while attempts are allowed, else the seconds until the oldest counted
    failure leaves the window. A reader id is blocked after ``per_reader`` failures (from any
    client); a client after ``per_client`` failures (for any reader ids), so other readers,
    who sign in from other addresses, are not held up by someone guessing.
    """

    def __init__(self, *, per_reader: int = 5, per_client: int = 20, window_s: float = 300.0,
                 max_keys: int = 10000, clock=time.monotonic):
        self.per_reader = per_reader
        self.per_client = per_client
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _keys(self, client: str, reader: str | None):
        yield ("client", client), self.per_client
        if reader is not None:  # an invite token names no reader: only its client counts
            yield ("reader", reader), self.per_reader

    def retry_after(self, client: str, reader: str | None) -> float:
        now = self._clock()
        with self._lock:
            waits = []
            for key, limit in self._keys(client, reader):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
            return max(waits, default=0.0)

    def failed(self, client: str, reader: str | None) -> None:
        now = self._clock()
        with self._lock:
            for key, _limit in self._keys(client, reader):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, reader: str) -> None:
        with self._lock:
            self._failures.pop(("reader", reader), None)


def same_origin(handler: RequestHandler, allowed: list[str] | None = None) -> bool:
    """Whether a request comes from a page of this server (``Origin``, else ``Referer``).

    ``allowed``: further ``host:port`` names of this server (``--allow-origin``). A request
    naming neither header is refused: every browser sends ``Origin`` with a form POST.
    """
    origin = handler.request.headers.get("Origin")
    if origin is not None:
        if origin == "null":
            return False
        netloc = urlsplit(origin).netloc
    else:
        referer = handler.request.headers.get("Referer")
        if not referer:
            return False
        netloc = urlsplit(referer).netloc
    return bool(netloc) and (netloc == handler.request.host or netloc in (allowed or []))


def reader_id_of(role: str | None) -> str | None:
    """Reader id in a ``reader:<id>`` role, else None."""
    if role and role.startswith("reader:"):
        return role[len("reader:"):]
    return None


# The sign-out control of the app's pages: a same-site POST (a GET or a cross-site POST signs
# nobody out).
LOGOUT_FORM = ('<form method="post" action="./logout" class="ga-logout-form" style="display:inline">'
               '<button type="submit" class="ga-logout">Sign out</button></form>')

_STYLE = """<style>
body { font-family: system-ui, sans-serif; background: #111; color: #eee; display: flex;
       justify-content: center; align-items: center; min-height: 100vh; margin: 0; }
form { background: #1d1d1d; padding: 2em 2.5em; border-radius: 8px; min-width: 18em; }
label { display: block; margin-top: 1em; }
input { width: 100%; padding: .5em; margin-top: .3em; box-sizing: border-box;
        background: #000; color: #eee; border: 1px solid #555; border-radius: 4px; }
button { margin-top: 1.5em; width: 100%; padding: .6em; font-size: 1em; }
.error { color: #ff8080; margin-top: 1em; }
a { color: #9cf; }
</style>"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
""" + _STYLE.replace("{", "{{").replace("}", "}}") + """</head><body>
<form method="post" action="./login" id="login-form">
<h2>{heading}</h2>
{fields}
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">{button}</button>
<div class="error" id="login-error">{error}</div>
<p><small>{switch}</small></p>
</form>{script}</body></html>
"""


def _safe_next(value: str | None) -> str:
    """Only the app's own two pages are valid targets after sign-in (no open redirect)."""
    return "/admin" if value and value.rstrip("/").endswith("/admin") else "/"


def _invite_token(handler: RequestHandler) -> str | None:
    """Invite token of ``/login?invite=T`` (or ``?token=T``), also when it arrives as
    ``/login?next=/?invite=T`` after a redirect from ``/?invite=T``."""
    from urllib.parse import parse_qs

    token = handler.get_argument("invite", None) or handler.get_argument("token", None)
    if token is None:
        query = parse_qs(urlsplit(handler.get_argument("next", "") or "").query)
        token = (query.get("invite") or query.get("token") or [None])[0]
    return token


def make_auth(study: "Study", sessions: Sessions, *, throttle: SignInThrottle | None = None,
              allowed_origins: list[str] | None = None) -> AuthProvider:
    """The Bokeh auth provider of one served study."""
    throttle = throttle or SignInThrottle()

    class LoginHandler(RequestHandler):
        def _page(self, *, next_url: str, error: str = "", status: int = 200, fields: str | None = None,
                  heading: str | None = None, button: str = "Sign in", script: str = "") -> None:
            admin = next_url == "/admin"
            if fields is None:
                if admin:
                    fields = ('<label>Admin password<input type="password" name="password" '
                              'id="password" autocomplete="current-password" autofocus></label>')
                else:
                    fields = ('<label>Reader id<input name="reader" id="reader" autocomplete="username" '
                              'autofocus></label><label>Password<input type="password" name="password" '
                              'id="password" autocomplete="current-password"></label>')
            switch = ('<a href="./login">Reader sign-in</a>' if admin
                      else '<a href="./login?next=/admin">Admin sign-in</a>')
            heading = heading or ("Study admin" if admin else "Reader sign-in")
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("X-Frame-Options", "DENY")
            self.finish(_PAGE.format(title=heading, heading=heading, fields=fields,
                                     next=html.escape(next_url), error=html.escape(error),
                                     switch=switch, button=button, script=script))

        def _invite_page(self, token: str, *, confirm: str = "") -> None:
            """A page of ours that signs in with the invite token by a same-site POST.

            An invite link is usually clicked in a mail or chat page; the POST from this page
            is a same-site request, so the browser sends (and keeps) the Strict cookie.
            """
            fields = f'<input type="hidden" name="invite" value="{html.escape(token)}">'
            if confirm:
                fields += '<input type="hidden" name="confirm" value="1">'
                self._page(next_url="/", heading="Switch reader?", fields=fields, error=confirm,
                           button="Sign in with this invite link")
                return
            self._page(next_url="/", heading="Signing in…", fields=fields, button="Continue to the study",
                       script='<script>document.getElementById("login-form").submit()</script>')

        def _refuse_cross_site(self, next_url: str) -> bool:
            if same_origin(self, allowed_origins):
                return False
            self._page(next_url=next_url, status=403,
                       error="Sign-in refused: the request did not come from this study's own sign-in "
                             "page. Open the study address directly and sign in there.")
            return True

        def _throttled(self, reader: str | None, next_url: str) -> bool:
            wait = throttle.retry_after(self.request.remote_ip or "", reader)
            if wait <= 0:
                return False
            self.set_header("Retry-After", str(max(1, math.ceil(wait))))
            self._page(next_url=next_url, status=429,
                       error=f"Too many failed sign-ins; try again in {max(1, math.ceil(wait / 60))} "
                             "minute(s), or ask the study admin for your invite link.")
            return True

        def _failed(self, reader: str | None) -> None:
            throttle.failed(self.request.remote_ip or "", reader)

        def _sign_in(self, role: str, next_url: str) -> None:
            sessions.start(self, role)
            self.redirect("." + next_url, status=303)

        async def _check(self, check, *args) -> Any:
            # Password hashing (scrypt) takes tens of milliseconds of CPU: off the event loop,
            # so that sign-in attempts never hold up readers who are answering.
            return await IOLoop.current().run_in_executor(None, check, *args)

        async def get(self) -> None:
            token = _invite_token(self)
            if token is not None:
                self._invite_page(token)
                return
            self._page(next_url=_safe_next(self.get_argument("next", None)))

        async def post(self) -> None:
            next_url = _safe_next(self.get_argument("next", None))
            if self._refuse_cross_site(next_url):
                return
            token = self.get_argument("invite", None)
            if token is not None:
                await self._post_invite(token)
                return
            password = self.get_argument("password", "")
            if next_url == "/admin":
                if self._throttled(ADMIN, next_url):
                    return
                if await self._check(study.authenticate_admin, password):
                    throttle.succeeded(ADMIN)
                    self._sign_in(ADMIN, "/admin")
                else:
                    self._failed(ADMIN)
                    self._page(next_url=next_url, status=403,
                               error="Wrong admin password; use the one in STUDY/credentials.txt.")
                return
            reader_id = self.get_argument("reader", "").strip()[:200]
            if self._throttled(reader_id, next_url):
                return
            if await self._check(study.authenticate, reader_id, password):
                throttle.succeeded(reader_id)
                self._sign_in(f"reader:{reader_id}", "/")
            else:
                self._failed(reader_id)
                # Same message for an unknown reader and a wrong password: no id guessing.
                self._page(next_url=next_url, status=403,
                           error="Unknown reader id or wrong password; check the credentials "
                                 "the study admin gave you.")

        async def _post_invite(self, token: str) -> None:
            if self._throttled(None, "/"):
                return
            reader_id = await self._check(study.authenticate_token, token)
            if reader_id is None:
                self._failed(None)
                self._page(next_url="/", status=403,
                           error="This invite link is not valid for this study; ask the "
                                 "study admin for a new link or sign in with your password.")
                return
            current = sessions.role(self.get_cookie(COOKIE))
            role = f"reader:{reader_id}"
            if current is not None and current != role and not self.get_argument("confirm", None):
                who = "the study admin" if current == ADMIN else f"reader {reader_id_of(current)}"
                self._invite_page(token, confirm=f"You are signed in as {who}. This invite link signs "
                                                 f"you in as reader {reader_id}: continue only if it is "
                                                 "yours.")
                return
            if current is not None and current != role:
                sessions.end(self)
            self._sign_in(role, "/")

    class LogoutHandler(RequestHandler):
        def get(self) -> None:
            # A link or a cross-site GET signs nobody out: this page asks for the POST.
            self.set_header("Cache-Control", "no-store")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("X-Frame-Options", "DENY")
            self.finish('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title>'
                        + _STYLE + '</head><body><form method="post" action="./logout"><h2>Sign out?</h2>'
                        '<button type="submit" id="logout-submit">Sign out</button>'
                        '<p><small><a href="./">Back to the study</a></small></p></form></body></html>')

        def post(self) -> None:
            if not same_origin(self, allowed_origins):
                self.set_status(403)
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish("Sign-out refused: the request did not come from this study's own pages.")
                return
            sessions.end(self)
            self.redirect("./login", status=303)

    class StudyAuth(AuthProvider):
        @property
        def get_user(self):
            def get_user(handler: RequestHandler) -> str | None:
                return sessions.role(handler.get_cookie(COOKIE))
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


def make_authorize(sessions: Sessions):
    """Panel ``authorize_callback``: readers get ``/``, the admin gets ``/admin``.

    A reader asking for ``/admin`` gets HTTP 403; the admin asking for ``/`` is sent to
    ``/admin``.
    """

    def authorize(user_info: Any, path: str) -> bool | str:
        import panel as pn

        role = sessions.role(pn.state.cookies.get(COOKIE))
        if path.rstrip("/").endswith("/admin"):
            return role == ADMIN
        if role == ADMIN:
            return "./admin"
        return reader_id_of(role) is not None

    return authorize


def session_role(sessions: Sessions) -> str | None:
    """Role of the current Panel session (read from the request that opened it)."""
    import panel as pn

    return sessions.role(pn.state.cookies.get(COOKIE))
