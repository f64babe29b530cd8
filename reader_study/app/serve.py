"""Serve a study: ``ganaudit study serve STUDY [--port P] [--db URL]``.

Routes
------
``/login``   sign-in page (reader id + password, or the invite link ``/?invite=TOKEN``;
             ``/login?next=/admin`` for the admin)
``/``        the reader's page, one Panel session per page load (a function is served)
``/admin``   progress per reader and CSV exports (admin only; readers get HTTP 403)
``/logout``  sign out
``/health``  plain ``ok`` (used to wait for the server and by the page to come back after
             a restart)

Answers are stored in ``STUDY/answers.db`` (SQLite) unless ``db`` names another database
(``postgresql+psycopg://user@host/db``).
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path

from tornado.web import RequestHandler

from gan_models.errors import InputError


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


def build_apps(study, store, secret: str) -> dict:
    """The two Panel page functions (``/`` and ``/admin``), one session per page load."""
    import panel as pn

    from reader_study.app.admin import AdminView
    from reader_study.app.login import ADMIN, reader_id_of, session_role
    from reader_study.app.reader import ReaderView
    from reader_study.session import ReaderSession

    def refused(text: str):
        return pn.pane.HTML(f'<p>{text} <a href="./login">Sign in</a></p>')

    def reader_page():
        reader_id = reader_id_of(session_role(study, secret))
        if reader_id is None:
            return refused("This page is for the study's readers.")
        return ReaderView(study, ReaderSession(study, store, reader_id))

    def admin_page():
        if session_role(study, secret) != ADMIN:
            return refused("This page is for the study admin.")
        return AdminView(study, store)

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

    from reader_study.app.login import load_cookie_secret, make_authorize
    from reader_study.store import AnswerStore
    from reader_study.study import Study

    study = Study.open(study_dir)
    _check_port(port)
    _check_address(address, port)
    store = AnswerStore.for_study(study, db)
    secret = load_cookie_secret(study.path)
    pn.config.authorize_callback = make_authorize(study, secret)
    title = f"Reader study {study.settings.get('study_id', '')}".strip()
    print(f"Serving study {study.settings.get('study_id', '')} at http://{address}:{port}/ "
          f"(readers) and http://{address}:{port}/admin (admin); answers in "
          f"{_redact(db) if db else 'STUDY/answers.db'}. Stop with Ctrl+C.", flush=True)
    try:
        _serve_apps(pn, build_apps(study, store, secret), study=study, secret=secret, port=port,
                    address=address, show=show, title=title,
                    origins=_origins(address, port, allow_origin))
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


def _serve_apps(pn, apps: dict, *, study, secret: str, port: int, address: str, show: bool,
                title: str, origins: list[str]) -> None:
    from reader_study.app.login import make_auth

    pn.serve(
        apps,
        port=port,
        address=address,
        show=show,
        title={"/": title, "/admin": f"{title} — admin"},
        websocket_origin=origins,
        auth_provider=make_auth(study, secret),
        cookie_secret=secret,
        extra_patterns=[(r"/health", HealthHandler)],
        location=False,
        verbose=False,
        threaded=False,
    )


def _redact(url: str) -> str:
    """Database URL without its password, for the start-up line."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the given database"


def main(argv: list[str] | None = None) -> int:
    """``python -m reader_study.app.serve STUDY [--port P] [--db URL] [--address A]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m reader_study.app.serve",
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
