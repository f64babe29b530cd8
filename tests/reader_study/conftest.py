"""Fixtures for the served reader study: a small study, a server in a subprocess, Chromium.

The server is started the way users start it (``python -m ganaudit study serve``) on a free
port and polled until ``/health`` answers; ``ServedStudy.kill()`` sends SIGKILL and
``start()`` brings it back on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
READERS = ["alice", "bob", "carol", "dave", "erin"]
ADMIN_PASSWORD = "admin-test-pw"
N_CASES = 8
N_PRACTICE = 2
LABELS = ("epoch-0003", "epoch-0007")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _blobs(rng: np.random.Generator, n: int, size: int, *, spots: int) -> np.ndarray:
    """Smooth random images in [-1, 1] (a disc with a few bright spots)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((n, size, size), np.float32)
    for i in range(n):
        img = -0.8 + 1.2 * (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.16)
        for _ in range(spots):
            cx, cy = rng.uniform(0.3, 0.7, 2)
            img = img + 0.5 * np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / 0.003))
        images[i] = np.clip(img + rng.normal(0, 0.05, (size, size)), -1, 1)
    return images


@dataclass
class StudyFixture:
    path: Path
    passwords: dict[str, str]
    tokens: dict[str, str]
    admin_password: str
    sources: list[str] = field(default_factory=list)  # real and fake source file stems
    folders: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> StudyFixture:
    """A study: 5 readers × 8 counted cases (+2 practice), fakes from two checkpoints."""
    from ganaudit.gan_models.data import write_png16
    from ganaudit.reader_study.create import create_study

    base = tmp_path_factory.mktemp("reader-app")
    rng = np.random.default_rng(3)
    sources = []
    folders = {"real": "mri_real_scans", LABELS[0]: "gen_ckpt_three", LABELS[1]: "gen_ckpt_seven"}
    for key, folder in folders.items():
        names = [f"{folder}_img{i:02d}" for i in range(12)]
        write_png16(_blobs(rng, 12, 48, spots=2 if key == "real" else 3), base / folder, names)
        sources += names
    created = create_study(base / folders["real"],
                           [(str(base / folders[label]), label) for label in LABELS],
                           READERS, N_CASES, base / "study", seed=5, practice=N_PRACTICE,
                           admin_password=ADMIN_PASSWORD)
    return StudyFixture(path=Path(created.path),
                        passwords={r: c["password"] for r, c in created.readers.items()},
                        tokens={r: c["invite_token"] for r, c in created.readers.items()},
                        admin_password=ADMIN_PASSWORD,
                        sources=sources, folders=list(folders.values()))


class ServedStudy:
    """``ganaudit study serve`` in a subprocess."""

    def __init__(self, study_dir: Path, *, db: str | None = None, log: Path):
        self.study_dir = study_dir
        self.db = db
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, *, timeout: float = 90.0) -> None:
        cmd = [sys.executable, "-m", "ganaudit", "study", "serve", str(self.study_dir),
               "--port", str(self.port)]
        if self.db:
            cmd += ["--db", self.db]
        env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3")
        self._log_fh = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log_fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            # Poll at a short interval until the port answers (bounded by the deadline).
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flushing; whatever was committed must survive."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        if getattr(self, "_log_fh", None):
            self._log_fh.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log_fh", None):
            self._log_fh.close()


@pytest.fixture(scope="module")
def served(study, tmp_path_factory):
    server = ServedStudy(study.path, log=tmp_path_factory.mktemp("logs") / "server.log")
    server.start()
    yield server
    server.stop()


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (scripts/test.sh installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()
