"""Serve a study: ``ganaudit study serve STUDY [--port P] [--db URL]``.

Routes
------
``/login``   sign-in page (reader id + password, or the invite link ``/?invite=TOKEN``;
             ``/login?next=/admin`` for the admin)
``/``        the reader's page, one Panel session per page load (a function is served)
``/admin``   progress per reader and CSV exports (admin only; readers get HTTP 403)
``/logout``  sign out (POST from the app's pages; GET shows a button)
``/health``  plain ``ok`` (used to wait for the server and by the page to come back after
             a restart)

Every other route of the web framework (its JavaScript and CSS under ``/static/``, per-app
metadata, the favicon) answers only a signed-in reader or admin (HTTP 403 otherwise), and
Panel's component resource route ``/components/...`` is closed (HTTP 404 at once): it imports
whatever module a URL names, before any sign-in check.

Pages never show a traceback: a failure while building a page shows a short message (the
details go to the server log), and ``serve`` refuses, before it starts, an answers database it
cannot write to.

Answers are stored in ``STUDY/answers.db`` (SQLite) unless ``db`` names another database
(``postgresql+psycopg://user@host/db``).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path

from tornado.web import HTTPError, RequestHandler

from ganaudit.gan_models.errors import InputError


_LOG = logging.getLogger(__name__)

# Injected into the head of the app's pages (before any framework script), so it runs even when
# the server dies between the page and its scripts or websocket: until the app has drawn
# itself, it polls /health; once the server was seen down and answers again (or the page is
# still empty after a while) it reloads the page.
_WATCHDOG = """<script>(function () {
  var started = Date.now(), down = false;
  function drawn() {
    if (window.__gaRendered) return true;
    var B = window.Bokeh;
    return !!(B && B.index && Object.keys(B.index).length);
  }
  function check() {
    if (drawn()) return;
    fetch("./health", {cache: "no-store"}).then(function (r) {
      if (!r.ok) { down = true; return; }
      if (down || Date.now() - started > 30000) { window.location.reload(); }
    }).catch(function () { down = true; }).then(function () {
      if (!drawn()) setTimeout(check, down ? 1000 : 2500);
    });
  }
  setTimeout(check, 2500);
})();</script>"""


class ClosedHandler(RequestHandler):
    """HTTP 404 at once, for routes the study server does not offer."""

    def get(self, *args, **kwargs) -> None:
        raise HTTPError(404)

    head = post = get


def _signed_in_only(handler_cls, sessions):
    """``handler_cls`` answering signed-in readers and the admin only (HTTP 403 otherwise)."""
    from ganaudit.reader_study.app.login import COOKIE

    class SignedInOnly(handler_cls):
        def prepare(self):
            if sessions.role(self.get_cookie(COOKIE)) is None:
                raise HTTPError(403)
            return super().prepare()

    SignedInOnly.__name__ = f"SignedInOnly{handler_cls.__name__}"
    return SignedInOnly


def _with_watchdog(handler_cls):
    """A page handler whose HTML page carries ``_WATCHDOG``."""

    class WithWatchdog(handler_cls):
        def write(self, chunk):
            if isinstance(chunk, str) and "<head>" in chunk:
                chunk = chunk.replace("<head>", "<head>" + _WATCHDOG, 1)
            return super().write(chunk)

    WithWatchdog.__name__ = f"WithWatchdog{handler_cls.__name__}"
    return WithWatchdog


def secure_routes(tornado_app, sessions) -> None:
    """Close or guard every route of ``tornado_app`` but the app's own pages and sign-in."""
    from bokeh.server.views.doc_handler import DocHandler
    from bokeh.server.views.ws import WSHandler

    public = {"/health", "/login", "/logout"}
    for router in (tornado_app.wildcard_router, tornado_app.default_router):
        for rule in router.rules:
            pattern = getattr(rule.matcher, "regex", None)
            target = rule.target
            if pattern is None or not isinstance(target, type) or not issubclass(target, RequestHandler):
                continue
            path = pattern.pattern.rstrip("$")
            if path in public:
                continue
            if path.startswith("/components"):
                rule.target = ClosedHandler
            elif issubclass(target, DocHandler):
                rule.target = _with_watchdog(target)  # signs in through the auth provider
            elif issubclass(target, WSHandler):
                continue  # checked by the auth provider on connect
            else:
                rule.target = _signed_in_only(target, sessions)


class HealthHandler(RequestHandler):
    """``GET /health`` → ``ok`` (no sign-in needed, no study information)."""

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain")
        self.finish("ok")


def _origins(address: str, port: int, allow_origin: list[str] | None) -> list[str]:
    if allow_origin:
        return list(allow_origin)
    if address in ("0.0.0.0", "::", ""):
        # Reachable under any host name; the sign-in cookie is SameSite=Strict, so pages of
        # other sites cannot open a reader's websocket.
        return ["*"]
    return [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]


SERVER_PROBLEM = ("The study server has a problem and cannot show this page now; your saved "
                  "answers are safe. Reload the page in a minute, or tell the study admin.")


def build_apps(study, store, sessions) -> dict:
    """The two Panel page functions (``/`` and ``/admin``), one session per page load.

    A failure while building a page shows ``SERVER_PROBLEM`` (details in the server log),
    never a traceback.
    """
    import panel as pn

    from ganaudit.reader_study.app.admin import AdminView
    from ganaudit.reader_study.app.login import ADMIN, reader_id_of, session_role
    from ganaudit.reader_study.app.reader import ReaderView
    from ganaudit.reader_study.session import ReaderSession

    def refused(text: str):
        return pn.pane.HTML(f'<p>{text} <a href="./login">Sign in</a></p>')

    def problem(what: str):
        _LOG.exception("building the %s page failed", what)
        return pn.pane.HTML(f'<p class="ga-server-problem">{SERVER_PROBLEM}</p>')

    def reader_page():
        try:
            reader_id = reader_id_of(session_role(sessions))
            if reader_id is None:
                return refused("This page is for the study's readers.")
            return ReaderView(study, ReaderSession(study, store, reader_id))
        except Exception:
            return problem("reader")

    def admin_page():
        try:
            if session_role(sessions) != ADMIN:
                return refused("This page is for the study admin.")
            return AdminView(study, store)
        except Exception:
            return problem("admin")

    return {"/": reader_page, "/admin": admin_page}


def serve(study_dir: str | Path, *, port: int = 5006, db: str | None = None,
          address: str = "127.0.0.1", show: bool = False,
          allow_origin: list[str] | None = None) -> None:
    """Serve the study at ``http://ADDRESS:PORT/`` until interrupted.

    Parameters
    ----------
    study_dir : path
        Study folder written by ``ganaudit study create``.
    port : int
        TCP port, 1 to 65535 (default 5006). Port 0 ("any free port") is refused: the address
        printed and the websocket origins allowed must name the real port.
    db : str, optional
        SQLAlchemy URL of the answers store; default ``sqlite:///STUDY/answers.db``.
    address : str
        Interface to listen on; ``127.0.0.1`` (default) is this machine only, ``0.0.0.0``
        every interface (put it behind HTTPS when readers connect over a network).
    show : bool
        Open the sign-in page in a browser.
    allow_origin : list of str, optional
        ``host:port`` names the browser may use to reach the server (websocket origin check);
        default: the address itself and localhost.
    """
    import panel as pn

    from ganaudit.reader_study.app.login import Sessions, load_cookie_secret, make_authorize
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    study = Study.open(study_dir)
    _check_port(port)
    _check_address(address, port)
    store = AnswerStore.for_study(study, db)
    store.check_writable()
    secret = load_cookie_secret(study.path)
    sessions = Sessions(study, store, secret)
    pn.config.authorize_callback = make_authorize(sessions)
    title = f"Reader study {study.settings.get('study_id', '')}".strip()
    print(f"Serving study {study.settings.get('study_id', '')} at http://{address}:{port}/ "
          f"(readers) and http://{address}:{port}/admin (admin); answers in "
          f"{_redact(db) if db else study.path / 'answers.db'}. Stop with Ctrl+C.", flush=True)
    try:
        _serve_apps(pn, build_apps(study, store, sessions), study=study, sessions=sessions, secret=secret,
                    port=port, address=address, show=show, title=title,
                    origins=_origins(address, port, allow_origin), allow_origin=allow_origin)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise InputError(f"cannot listen on {address}:{port} ({exc.strerror}); choose another "
                             "port with --port or another address with --address") from exc
        raise


def _check_port(port) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"--port must be a whole number from 1 to 65535, got {port!r}; the default is 5006")


def _check_address(address: str, port: int) -> None:
    """Resolve ``address`` as the server will, so a bad one is refused before anything starts."""
    try:
        # The same lookup tornado's bind_sockets makes ("" means every interface).
        socket.getaddrinfo(address or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        # UnicodeError: a host name label longer than 63 characters cannot even be encoded.
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InputError(f"cannot listen on {address}:{port}: {address!r} does not resolve to an address "
                         f"({reason}); give --address 127.0.0.1 (this machine only), 0.0.0.0 (every interface) "
                         "or a host name of this machine") from exc


def _serve_apps(pn, apps: dict, *, study, sessions, secret: str, port: int, address: str, show: bool,
                title: str, origins: list[str], allow_origin: list[str] | None = None) -> None:
    from ganaudit.reader_study.app.login import make_auth

    server = pn.serve(
        apps,
        port=port,
        address=address,
        show=show,
        start=False,
        title={"/": title, "/admin": f"{title} — admin"},
        websocket_origin=origins,
        auth_provider=make_auth(study, sessions, allowed_origins=list(allow_origin or [])),
        cookie_secret=secret,
        extra_patterns=[(r"/health", HealthHandler)],
        location=False,
        verbose=False,
        threaded=False,
    )
    secure_routes(server._tornado, sessions)
    server.start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass


def _redact(url: str) -> str:
    """Database URL without its password, for the start-up line."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the given database"


def main(argv: list[str] | None = None) -> int:
    """``python -m ganaudit.reader_study.app.serve STUDY [--port P] [--db URL] [--address A]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ganaudit.reader_study.app.serve",
                                     description="Serve a reader study in the browser.")
    parser.add_argument("study")
    parser.add_argument("--port", type=int, default=5006)
    parser.add_argument("--db", default=None)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        serve(args.study, port=args.port, db=args.db, address=args.address)
    except InputError as exc:
        print(f"study serve: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
