"""Load test of the reader-study app: N concurrent readers × M answers.

What it measures
----------------
A study with N readers × M cases is served by ``python -m ganaudit study serve`` in its own
process. Two kinds of client answer at the same time, each reader signed in with their invite
link (the same same-site POST a browser makes):

- ``protocol``: a Python client speaking the page's websocket protocol (server path only);
- ``browser``: one headless Chromium with N pages, each answering by keyboard (call,
  confidence, Enter) as fast as the page allows.

"Answer → next case shown" is timed inside each page with ``performance.now()``: from the
moment the answer message is handed to the websocket to the moment the next image has been
decoded and drawn on the canvas (or the end screen is shown after the last case). It
therefore includes the server's work (commit to the answers store, choosing and marking the
next case, encoding the image), both network hops, the browser's image decode and drawing,
and the CPU taken by the other N-1 pages on the same machine.

At the end the answers store must hold exactly N × M answers (no loss, no duplicates).

``--kill K`` (protocol client) kills the server with SIGKILL K times during the run, evenly
spread over the answers, and starts it again; the readers reconnect and go on. Every answer a
client saw confirmed (the next case arrived, which the server sends only after the commit)
must be in the store, and no (reader, case) twice.

Usage::

    python bench/reader_load.py                       # 20 readers × 50 answers: protocol, kills, browser
    python bench/reader_load.py --quick --no-doc      # a few readers and answers (the test suite runs it)
    python bench/reader_load.py --db postgresql+psycopg://user@host:port/db

Writes ``docs/benchmarks/reader_load.md`` (``--doc PATH``, or ``--no-doc``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Smooth head-like test images in [-1, 1]: a disc, a few blobs, a little noise."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        img = -0.9 + 1.3 * (((xx - 0.5) ** 2 / 0.16 + (yy - 0.5) ** 2 / 0.2) < 1)
        for _ in range(3):
            cx, cy = rng.uniform(0.3, 0.7, 2)
            img = img + 0.4 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / 0.002))
        out[i] = np.clip(img + rng.normal(0, 0.04, (size, size)), -1, 1)
    return out


def make_study(base: Path, *, readers: int, answers: int, size: int):
    from ganaudit.gan_models.data import write_png16
    from ganaudit.reader_study.create import create_study

    rng = np.random.default_rng(0)
    half = answers // 2
    write_png16(make_images(rng, half, size), base / "real")
    write_png16(make_images(rng, half, size), base / "fake")
    ids = [f"reader{i:02d}" for i in range(readers)]
    return create_study(base / "real", [(str(base / "fake"), "bench-fake")], ids, answers,
                        base / "study", seed=0)


class Server:
    """``ganaudit study serve`` in its own process group; ``kill`` is SIGKILL, ``start`` waits
    for ``/health`` on the same port."""

    def __init__(self, study: Path, port: int, db: str | None, log: Path):
        self.cmd = [sys.executable, "-m", "ganaudit", "study", "serve", str(study), "--port", str(port)]
        if db:
            self.cmd += ["--db", db]
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)  # polling the port while the server imports
        self.proc.kill()
        raise SystemExit("server did not start within 180 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# Runs inside each page: presses the same keys a reader would (keydown events on the document,
# handled by the app's own listener) and waits for the next case with a MutationObserver, so the
# benchmark driver itself costs almost no CPU while the readers work.
READ_CASES_JS = """
async ([answers, thinkMs, seed]) => {
  const find = (node) => {
    const hit = node.querySelector('.ga-reader');
    if (hit) return hit;
    for (const el of node.querySelectorAll('*')) {
      if (el.shadowRoot) { const r = find(el.shadowRoot); if (r) return r; }
    }
    return null;
  };
  const root = find(document);
  const changed = (test) => new Promise((resolve) => {
    if (test()) return resolve();
    const obs = new MutationObserver(() => { if (test()) { obs.disconnect(); resolve(); } });
    obs.observe(root, { attributes: true });
  });
  let x = seed;
  const rand = () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648; };
  const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, composed: true }));
  for (let i = 0; i < answers; i++) {
    await changed(() => root.dataset.state === 'ready');
    const shown = root.dataset.case;
    if (thinkMs > 0) await new Promise((r) => setTimeout(r, thinkMs * (0.5 + rand())));
    key(rand() < 0.5 ? 'r' : 'f');
    key(String(1 + Math.floor(rand() * 3)));
    key('Enter');
    await changed(() => root.dataset.state === 'finished' ||
                        (root.dataset.state === 'ready' && root.dataset.case !== shown));
  }
  return window.__gaTimings;
}
"""


async def run_reader(browser, url: str, token: str, answers: int, think_ms: float, seed: int) -> list[float]:
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(600_000)
    await page.goto(f"{url}/?invite={token}")
    await page.wait_for_selector(".ga-reader[data-state=ready]")
    timings = await page.evaluate(READ_CASES_JS, [answers, think_ms, seed])
    await context.close()
    return timings


async def drive_browser(url: str, tokens: list[str], answers: int, think_ms: float,
                        chromium: str) -> tuple[list[list[float]], float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        t0 = time.perf_counter()
        results = await asyncio.gather(*(run_reader(browser, url, t, answers, think_ms, 7 + i)
                                         for i, t in enumerate(tokens)))
        wall = time.perf_counter() - t0
        await browser.close()
    return results, wall


class BokehReader:
    """A reader speaking the browser's websocket protocol (Bokeh 3) from Python.

    It does what the page does: sign in with the invite link (cookie), load the page (the
    server creates the reader's session and shows the first case), open the websocket with
    the session token, pull the document, then per case send the same ``data_event`` message
    the page sends on Enter and wait for the server's patch carrying the next case.
    """

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    async def _http(self, path: str, cookie: str | None = None, *, form: dict | None = None):
        from urllib.parse import urlencode

        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        headers = {"Cookie": cookie} if cookie else {}
        method, body = "GET", None
        if form is not None:
            # The server takes sign-ins only from its own pages (Origin check), as a browser sends.
            method, body = "POST", urlencode(form)
            headers.update({"Origin": self.url, "Content-Type": "application/x-www-form-urlencoded"})
        return await AsyncHTTPClient().fetch(HTTPRequest(self.url + path, method=method, body=body,
                                                         headers=headers, follow_redirects=False,
                                                         request_timeout=120),
                                             raise_error=False)

    async def _read(self):
        message = await self.ws.read_message()
        if message is None:
            raise ConnectionError("websocket closed")
        return message

    async def _recv(self):
        """One Bokeh message: (header, content) as dicts."""
        header = json.loads(await self._read())
        await self._read()  # metadata
        content = json.loads(await self._read())
        for _ in range(2 * int(header.get("num_buffers", 0) or 0)):
            await self._read()
        return header, content

    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": uuid.uuid4().hex.upper(), "msgtype": msgtype}
        for frame in (header, {}, content):
            await self.ws.write_message(json.dumps(frame))

    async def sign_in(self) -> None:
        """The invite link: its page POSTs the token back (same site), the answer sets the cookie."""
        page = await self._http(f"/login?invite={self.token}")
        if page.code != 200 or b'name="invite"' not in (page.body or b""):
            raise RuntimeError(f"invite page failed ({page.code})")
        login = await self._http("/login", form={"invite": self.token, "next": "/"})
        cookie = login.headers.get("Set-Cookie", "").split(";")[0]
        if login.code != 303 or not cookie:
            raise RuntimeError(f"invite sign-in failed ({login.code})")
        self.cookie = cookie

    async def open(self) -> None:
        """Load the page (a new server session) and open its websocket; the cookie stays."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        if getattr(self, "cookie", None) is None:
            await self.sign_in()
        cookie = self.cookie
        page = await self._http("/", cookie)
        if page.code != 200:
            raise ConnectionError(f"reader page answered {page.code}")
        session_token = re.search(r'"token":"([^"]+)"', page.body.decode()).group(1)
        ws_url = self.url.replace("http://", "ws://") + "/ws"
        self.ws = await websocket_connect(
            HTTPRequest(ws_url, headers={"Cookie": cookie, "Origin": self.url}),
            subprotocols=["bokeh", session_token], max_message_size=64 * 2**20)
        await self._recv()  # ACK
        await self._send("PULL-DOC-REQ", {})
        while True:
            header, content = await self._recv()
            if header["msgtype"] == "PULL-DOC-REPLY":
                break
        # Like the page: tell the server the document is ready (Panel holds events until then).
        await self._send("PATCH-DOC", {"events": [{
            "kind": "MessageSent", "msg_type": "bokeh_event",
            "msg_data": {"type": "event", "name": "document_ready", "values": {"type": "map"}}}]})
        root = next(r for r in content["doc"]["roots"] if r["attributes"].get("name") == "CaseViewer")
        self.model_id = root["id"]
        attributes = root["attributes"]["data"]["attributes"]
        self.case = attributes["case"]
        self.finished = bool(attributes.get("finished"))

    async def answer(self, rng: np.random.Generator) -> float:
        """Send one answer; return ms until the next case (or the end) arrived."""
        data = {"type": "map", "entries": [
            ["type", "submit"], ["case", self.case], ["call", "real" if rng.random() < 0.5 else "fake"],
            ["confidence", int(rng.integers(1, 4))], ["marks", []], ["note", ""]]}
        event = {"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
            "type": "event", "name": "data_event",
            "values": {"type": "map", "entries": [["model", {"id": self.model_id}], ["data", data]]}}}
        t0 = time.perf_counter()
        await self._send("PATCH-DOC", {"events": [event]})
        while True:
            header, content = await self._recv()
            if header["msgtype"] != "PATCH-DOC":
                continue
            new = {e.get("attr"): e.get("new") for e in content.get("events", [])
                   if e.get("kind") == "ModelChanged"}
            if new.get("finished") is True or (new.get("case") and new["case"] != self.case):
                if new.get("image"):
                    base64.b64decode(new["image"].split(",", 1)[1])  # what the page decodes
                self.case = new.get("case") or ""
                self.finished = bool(new.get("finished"))
                return (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()


class Progress:
    """Answers confirmed so far, shared by the readers and the server killer."""

    def __init__(self):
        self.confirmed: set[tuple[str, str]] = set()
        self.changed = asyncio.Event()

    def add(self, reader: str, case: str) -> None:
        self.confirmed.add((reader, case))
        self.changed.set()


async def run_protocol_reader(url: str, reader_id: str, token: str, answers: int, think_ms: float,
                              seed: int, progress: Progress) -> list[float]:
    """Answer until the study says finished; after a dropped connection (a killed server) wait
    for the server and go on where the store says (the cookie survives the restart)."""
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    dropped = (ConnectionError, OSError, StreamClosedError, WebSocketClosedError)
    reader = BokehReader(url, token)
    rng = np.random.default_rng(seed)
    timings = []
    connected = False
    down_since = None
    while True:
        if not connected:
            try:
                await reader.open()
                connected, down_since = True, None
            except Exception:
                # The server is down or still starting; a client that never gets back in fails.
                reader.close()
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > 300:
                    raise
                await asyncio.sleep(0.2)
                continue
        if reader.finished or not reader.case:
            break
        if think_ms:
            await asyncio.sleep(think_ms * (0.5 + rng.random()) / 1000)
        answered = reader.case
        try:
            timings.append(await reader.answer(rng))
        except dropped:
            reader.close()
            connected = False
            continue
        progress.add(reader_id, answered)
    reader.close()
    return timings


async def kill_server(server: "Server", progress: Progress, total: int, kills: int) -> None:
    """SIGKILL the server ``kills`` times, evenly over the answers, starting it again each time."""
    loop = asyncio.get_running_loop()
    for k in range(1, kills + 1):
        target = total * k // (kills + 1)
        while len(progress.confirmed) < target:
            progress.changed.clear()
            await progress.changed.wait()
        await loop.run_in_executor(None, server.kill)
        progress.kills += 1
        await loop.run_in_executor(None, server.start)


async def drive_protocol(url: str, readers: dict[str, str], answers: int, think_ms: float, *,
                         server: "Server", kills: int = 0) -> tuple[list[list[float]], float, Progress]:
    progress = Progress()
    progress.kills = 0
    t0 = time.perf_counter()
    tasks = [run_protocol_reader(url, r, t, answers, think_ms, 7 + i, progress)
             for i, (r, t) in enumerate(readers.items())]
    if kills:
        tasks.append(kill_server(server, progress, len(readers) * answers, kills))
    results = await asyncio.gather(*tasks)
    if kills:
        results = results[:-1]
    return results, time.perf_counter() - t0, progress


def stored_answers(study_dir: Path, db: str | None):
    """All answer rows of the store (one per stored answer, duplicates included)."""
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    study = Study.open(study_dir)
    store = AnswerStore.for_study(study, db)
    try:
        return store.answers_frame()
    finally:
        store.close()


def write_doc(path: Path, text: str) -> None:
    from ganaudit.gan_models.atomic import write_text

    write_text(path, text)


def run_once(args, client: str, think_ms: float, chromium: str | None, *, kills: int = 0) -> dict:
    """Create a fresh study, serve it, drive it with one kind of client; return the figures."""
    with tempfile.TemporaryDirectory(prefix="reader-load-") as tmp:
        base = Path(tmp)
        created = make_study(base, readers=args.readers, answers=args.answers, size=args.size)
        server = Server(Path(created.path), free_port(), args.db, base / "server.log")
        server.start()
        url = f"http://127.0.0.1:{server.port}"
        readers = {r: c["invite_token"] for r, c in created.readers.items()}
        tag = f"[{client}, think {think_ms:g} ms{f', {kills} x kill -9' if kills else ''}]"
        print(f"{tag} {len(readers)} readers × {args.answers} answers against {url}", flush=True)
        progress = None
        try:
            if client == "browser":
                results, wall = asyncio.run(drive_browser(url, list(readers.values()), args.answers,
                                                          think_ms, chromium))
            else:
                results, wall, progress = asyncio.run(drive_protocol(url, readers, args.answers, think_ms,
                                                                     server=server, kills=kills))
        finally:
            server.stop()
        frame = stored_answers(Path(created.path), args.db)
    stored = len(frame)
    duplicates = int(frame.duplicated(["reader_id", "case_id"]).sum())
    lost = None
    if progress is not None:
        in_store = set(zip(frame["reader_id"], frame["case_id"]))
        lost = len(progress.confirmed - in_store)
    ms = np.array([t for r in results for t in r], dtype=float)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    fig = {"client": client, "think_ms": think_ms, "kills": kills, "stored": stored,
           "expected": args.readers * args.answers, "duplicates": duplicates, "lost": lost,
           "confirmed": len(progress.confirmed) if progress else None,
           "killed": progress.kills if progress else 0,
           "n": int(ms.size), "p50": p50, "p95": p95, "p99": p99, "max": float(ms.max()), "wall": wall}
    fig["ok"] = (fig["stored"] == fig["expected"] and duplicates == 0 and not lost
                 and fig["killed"] == kills)
    # Other work on the machine inflates the figures; record how busy it was.
    fig["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{tag} answers stored: {stored} (expected {fig['expected']}, duplicates {duplicates}"
          + (f", confirmed {fig['confirmed']}, lost {lost}" if lost is not None else "")
          + (f", server killed {fig['killed']} of {kills} times" if kills else "")
          + f") -> {'OK' if fig['ok'] else 'MISMATCH'}")
    target = "" if kills else (f" (target p95 <= {args.target_ms:.0f} ms: "
                               f"{'met' if p95 <= args.target_ms else 'NOT met'})")
    print(f"{tag} answer -> next case: n={ms.size} p50={p50:.0f} ms p95={p95:.0f} ms "
          f"p99={p99:.0f} ms max={ms.max():.0f} ms{target}; wall {wall:.1f} s, "
          f"{stored / wall:.1f} answers/s; load average {fig['load']:.1f}", flush=True)
    return fig


WHAT = {
    "protocol": "answer sent → patch with the next case received and its image decoded, by a "
                "Python client speaking the page's websocket protocol (server path only, no "
                "browser drawing)",
    "browser": "answer handed to the websocket → next image decoded and drawn on the canvas, "
               "timed inside each Chromium page (all pages share the CPUs with the server)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--answers", type=int, default=50, help="answers per reader (even)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--run", nargs="+", default=["protocol:0", "protocol:0:kill10", "browser:0"],
                        metavar="CLIENT:THINK_MS[:killK]",
                        help="runs to make: client 'protocol' or 'browser', the mean think time before "
                             "each answer in ms (each pause uniform in 0.5–1.5 × it; 0 = none), and for "
                             "the protocol client optionally killK: K x kill -9 of the server during the run")
    parser.add_argument("--quick", action="store_true",
                        help="3 readers × 6 answers, protocol client with and without 2 kills (checks the "
                             "script works; the test suite runs it)")
    parser.add_argument("--db", default=None, help="answers database URL (default SQLite in the study)")
    parser.add_argument("--target-ms", type=float, default=150.0)
    parser.add_argument("--device", default="2-core CPU container, shared with other jobs (figures taken under load)",
                        help="how to describe the machine in the doc")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks" / "reader_load.md"))
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.readers, args.answers, args.size = 3, 6, 32
        args.run = ["protocol:0", "protocol:0:kill2"]
    # Turn SIGTERM into an exception so the served study's process is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    runs = []
    for spec in args.run:
        client, _, rest = spec.partition(":")
        think, _, kill = rest.partition(":")
        if client not in WHAT:
            parser.error(f"--run {spec!r}: client must be 'protocol' or 'browser'")
        if kill and (client != "protocol" or not re.fullmatch(r"kill\d+", kill)):
            parser.error(f"--run {spec!r}: kills are written killK (e.g. protocol:0:kill10), protocol client only")
        try:
            runs.append((client, float(think or 0), int(kill[4:]) if kill else 0))
        except ValueError:
            parser.error(f"--run {spec!r}: think time must be a number of ms, e.g. protocol:2000")
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if any(c == "browser" for c, _, _ in runs) and chromium is None:
        raise SystemExit("Chromium not found; install Debian's chromium or set CHROMIUM_PATH")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    figures = [run_once(args, client, think, chromium, kills=kills) for client, think, kills in runs]
    if not args.no_doc:
        write_doc(Path(args.doc), render_doc(args, figures, load_before))
        print(f"wrote {args.doc}")
    return 0 if all(f["ok"] for f in figures) else 1


def render_doc(args, figures: list[dict], load_before: float) -> str:
    store_kind = ("PostgreSQL" if args.db and args.db.startswith("postgres")
                  else "SQLite (WAL, synchronous=FULL)")

    def p95(f):
        if f["kills"]:
            return f"{f['p95']:.0f} (with restarts)"
        return f"**{f['p95']:.0f}** ({'met' if f['p95'] <= args.target_ms else 'not met'})"

    rows = "\n".join(
        f"| {f['client']} | {f['think_ms']:g} | {f['kills']} | {f['stored']} of {f['expected']} | "
        f"{f['duplicates']} | {'—' if f['lost'] is None else f['lost']} | {f['p50']:.0f} | {p95(f)} | "
        f"{f['p99']:.0f} | {f['max']:.0f} | {f['wall']:.1f} | {f['stored'] / f['wall']:.1f} | {f['load']:.1f} |"
        for f in figures)
    what = "\n".join(f"- **{c}**: {WHAT[c]}." for c in dict.fromkeys(f["client"] for f in figures))
    return f"""# Reader-study app under load

Command: `python bench/reader_load.py --readers {args.readers} --answers {args.answers} --size {args.size} --run {' '.join(args.run)}`

Device: {args.device} (CPU count seen: {os.cpu_count()}); {platform.python_implementation()}
{platform.python_version()}; answers store: {store_kind}; 1-minute load average
{load_before:.1f} before the first run. Each run serves a fresh study with `ganaudit study serve`
in its own process; {args.readers} readers sign in with their invite links and answer {args.answers}
{args.size}×{args.size} cases each at the same time. "Think" is the mean pause before each answer
(uniform in 0.5–1.5 × it); think 0 means every reader answers the instant the next case arrives:
a closed-loop stress test of capacity (latency is roughly readers ÷ throughput), far above real
reading speed. "Kills": SIGKILLs of the server during the run, spread evenly over the answers;
the server is started again at once and the readers reconnect; "lost" counts answers a client
saw confirmed (the next case arrived) that are not in the store. The latencies of a run with
kills include waiting for the restarts.

What "answer → next case" measures:
{what}

| client | think ms | kills | answers stored | duplicates | lost | p50 ms | p95 ms (target ≤ {args.target_ms:.0f}) | p99 ms | max ms | wall s | answers/s | load avg |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
{rows}

"load avg" is the machine's 1-minute load average at the end of each run (on 2 cores, anything
above 2 means the server and its clients waited for CPU). Figures taken while other jobs ran
are marked as such in the device line; rerun on a quiet machine to replace them.
"""


if __name__ == "__main__":
    sys.exit(main())
