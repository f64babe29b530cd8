"""Load test of the reader-study app: N concurrent readers × M answers through real browsers.

What it measures
----------------
A study with N readers × M cases is served by ``python -m ganaudit study serve`` in its own
process. One headless Chromium opens N pages (one signed-in reader each, via invite link) and
every page answers its M cases as fast as the page allows (keyboard: call, confidence,
Enter; no think time, so this is a worst case far above real reading speed).

"Answer → next case shown" is timed inside each page with ``performance.now()``: from the
moment the answer message is handed to the websocket to the moment the next image has been
decoded and drawn on the canvas (or the end screen is shown after the last case). It
therefore includes the server's work (commit to the answers store, choosing and marking the
next case, encoding the image), both network hops, the browser's image decode and drawing,
and the CPU taken by the other N-1 pages on the same machine.

At the end the answers store must hold exactly N × M answers (no loss, no duplicates).

Usage::

    python bench/reader_load.py                       # 20 readers × 50 answers
    python bench/reader_load.py --readers 5 --answers 10 --no-doc   # quick check
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
    from gan_models.data import write_png16
    from reader_study.create import create_study

    rng = np.random.default_rng(0)
    half = answers // 2
    write_png16(make_images(rng, half, size), base / "real")
    write_png16(make_images(rng, half, size), base / "fake")
    ids = [f"reader{i:02d}" for i in range(readers)]
    return create_study(base / "real", [(str(base / "fake"), "bench-fake")], ids, answers,
                        base / "study", seed=0)


def start_server(study: Path, port: int, db: str | None, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ganaudit", "study", "serve", str(study), "--port", str(port)]
    if db:
        cmd += ["--db", db]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)  # polling the port while the server imports
    proc.kill()
    raise SystemExit("server did not start within 120 s")


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

    async def _http(self, path: str, cookie: str | None = None):
        from tornado.httpclient import AsyncHTTPClient, HTTPRequest

        headers = {"Cookie": cookie} if cookie else {}
        return await AsyncHTTPClient().fetch(HTTPRequest(self.url + path, headers=headers,
                                                         follow_redirects=False),
                                             raise_error=False)

    async def _recv(self):
        """One Bokeh message: (header, content) as dicts."""
        header = json.loads(await self.ws.read_message())
        await self.ws.read_message()  # metadata
        content = json.loads(await self.ws.read_message())
        for _ in range(2 * int(header.get("num_buffers", 0) or 0)):
            await self.ws.read_message()
        return header, content

    async def _send(self, msgtype: str, content: dict) -> None:
        header = {"msgid": uuid.uuid4().hex.upper(), "msgtype": msgtype}
        for frame in (header, {}, content):
            await self.ws.write_message(json.dumps(frame))

    async def open(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        login = await self._http(f"/login?invite={self.token}")
        cookie = login.headers.get("Set-Cookie", "").split(";")[0]
        if login.code != 302 or not cookie:
            raise RuntimeError(f"invite sign-in failed ({login.code})")
        self.cookie = cookie
        page = await self._http("/", cookie)
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
        self.case = root["attributes"]["data"]["attributes"]["case"]
        self.finished = False

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
        self.ws.close()


async def run_protocol_reader(url: str, token: str, answers: int, think_ms: float, seed: int) -> list[float]:
    reader = BokehReader(url, token)
    await reader.open()
    rng = np.random.default_rng(seed)
    timings = []
    try:
        for _ in range(answers):
            if think_ms:
                await asyncio.sleep(think_ms * (0.5 + rng.random()) / 1000)
            timings.append(await reader.answer(rng))
    finally:
        reader.close()
    return timings


async def drive_protocol(url: str, tokens: list[str], answers: int, think_ms: float) -> tuple[list[list[float]], float]:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(run_protocol_reader(url, t, answers, think_ms, 7 + i)
                                     for i, t in enumerate(tokens)))
    return results, time.perf_counter() - t0


def count_answers(study_dir: Path, db: str | None) -> tuple[int, int]:
    from reader_study.store import AnswerStore
    from reader_study.study import Study

    study = Study.open(study_dir)
    store = AnswerStore.for_study(study, db)
    try:
        frame = store.answers_frame()
    finally:
        store.close()
    return len(frame), int(frame.duplicated(["reader_id", "case_id"]).sum())


def write_doc(path: Path, text: str) -> None:
    from gan_models.atomic import write_text

    write_text(path, text)


def run_once(args, client: str, think_ms: float, chromium: str | None) -> dict:
    """Create a fresh study, serve it, drive it with one kind of client; return the figures."""
    with tempfile.TemporaryDirectory(prefix="reader-load-") as tmp:
        base = Path(tmp)
        created = make_study(base, readers=args.readers, answers=args.answers, size=args.size)
        port = free_port()
        proc = start_server(Path(created.path), port, args.db, base / "server.log")
        url = f"http://127.0.0.1:{port}"
        tokens = [c["invite_token"] for c in created.readers.values()]
        print(f"[{client}, think {think_ms:g} ms] {len(tokens)} readers × {args.answers} answers "
              f"against {url}", flush=True)
        try:
            if client == "browser":
                results, wall = asyncio.run(drive_browser(url, tokens, args.answers, think_ms, chromium))
            else:
                results, wall = asyncio.run(drive_protocol(url, tokens, args.answers, think_ms))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        stored, duplicates = count_answers(Path(created.path), args.db)
    ms = np.array([t for r in results for t in r], dtype=float)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    fig = {"client": client, "think_ms": think_ms, "stored": stored, "expected": args.readers * args.answers,
           "duplicates": duplicates, "n": int(ms.size), "p50": p50, "p95": p95, "p99": p99,
           "max": float(ms.max()), "wall": wall}
    fig["ok"] = fig["stored"] == fig["expected"] and duplicates == 0
    # Other work on the machine inflates the figures; record how busy it was.
    fig["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    tag = f"[{client}, think {think_ms:g} ms]"
    print(f"{tag} answers stored: {stored} (expected {fig['expected']}, duplicates {duplicates}) "
          f"-> {'OK' if fig['ok'] else 'MISMATCH'}")
    print(f"{tag} answer -> next case: n={ms.size} p50={p50:.0f} ms p95={p95:.0f} ms "
          f"p99={p99:.0f} ms max={ms.max():.0f} ms (target p95 <= {args.target_ms:.0f} ms: "
          f"{'met' if p95 <= args.target_ms else 'NOT met'}); wall {wall:.1f} s, "
          f"{stored / wall:.1f} answers/s", flush=True)
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
    parser.add_argument("--run", nargs="+", default=["protocol:2000", "protocol:0", "browser:2000"],
                        metavar="CLIENT:THINK_MS",
                        help="runs to make: client 'protocol' or 'browser' and the mean think time "
                             "before each answer in ms (each pause uniform in 0.5–1.5 × it; 0 = none)")
    parser.add_argument("--db", default=None, help="answers database URL (default SQLite in the study)")
    parser.add_argument("--target-ms", type=float, default=150.0)
    parser.add_argument("--device", default="2-core CPU container, shared during development",
                        help="how to describe the machine in the doc")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks" / "reader_load.md"))
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    # Turn SIGTERM into an exception so the served study's process is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    runs = []
    for spec in args.run:
        client, _, think = spec.partition(":")
        if client not in WHAT:
            parser.error(f"--run {spec!r}: client must be 'protocol' or 'browser'")
        try:
            runs.append((client, float(think or 0)))
        except ValueError:
            parser.error(f"--run {spec!r}: think time must be a number of ms, e.g. protocol:2000")
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if any(c == "browser" for c, _ in runs) and chromium is None:
        raise SystemExit("Chromium not found; install Debian's chromium or set CHROMIUM_PATH")
    figures = [run_once(args, client, think, chromium) for client, think in runs]
    if not args.no_doc:
        write_doc(Path(args.doc), render_doc(args, figures))
        print(f"wrote {args.doc}")
    return 0 if all(f["ok"] for f in figures) else 1


def render_doc(args, figures: list[dict]) -> str:
    store_kind = ("PostgreSQL" if args.db and args.db.startswith("postgres")
                  else "SQLite (WAL, synchronous=FULL)")
    rows = "\n".join(
        f"| {f['client']} | {f['think_ms']:g} | {f['stored']} of {f['expected']} ({f['duplicates']} dup.) | {f['p50']:.0f} | "
        f"**{f['p95']:.0f}** ({'met' if f['p95'] <= args.target_ms else 'not met'}) | {f['p99']:.0f} | "
        f"{f['max']:.0f} | {f['wall']:.1f} | {f['stored'] / f['wall']:.1f} | {f['load']:.1f} |" for f in figures)
    what = "\n".join(f"- **{c}**: {WHAT[c]}." for c in dict.fromkeys(f["client"] for f in figures))
    return f"""# Reader-study app under load

Command: `python bench/reader_load.py --readers {args.readers} --answers {args.answers} --size {args.size} --run {' '.join(args.run)}`

Device: {args.device} (CPU count seen: {os.cpu_count()}); {platform.python_implementation()}
{platform.python_version()}; answers store: {store_kind}. Each run serves a fresh study with
`ganaudit study serve` in its own process; {args.readers} readers answer {args.answers} {args.size}×{args.size}
cases each at the same time. "Think" is the mean pause before each answer (uniform in 0.5–1.5 ×
it). Radiologists take several seconds per image, so 2000 ms is still a fast reader; think 0
means every reader answers the instant the next case arrives: a closed-loop stress test of
capacity, in which the latency is roughly readers ÷ throughput, not a reading scenario.

What "answer → next case" measures:
{what}

| client | think ms | answers stored | p50 ms | p95 ms (target ≤ {args.target_ms:.0f}) | p99 ms | max ms | wall s | answers/s | load avg |
|---|---|---|---|---|---|---|---|---|---|
{rows}

"load avg" is the machine's 1-minute load average at the end of the run (on 2 cores, anything
above 2 means the server and its clients waited for CPU). Rerun quietly (nothing else running)
to replace these figures.
"""


if __name__ == "__main__":
    sys.exit(main())
