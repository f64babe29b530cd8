"""Timing of the reader-study core without a browser: create, answer through sessions, analyse.

What it measures (one process, the Python API the app uses):
- ``create_study`` for R readers × N cases from phantom slices (blinding, hashing, SQLite init);
- per answer: ``ReaderSession.submit`` + the next ``current_case`` + ``progress_text``
  (commit to the answers store, choose and mark the next case) — the server-side part of
  "answer → next case shown";
- ``analyze_study`` (all tables, 2000 bootstrap resamples, the plot).

Usage::

    python bench/reader_core.py                     # 5 readers × 100 cases, SQLite
    python bench/reader_core.py --readers 20 --cases 50 --db postgresql://user@host:port/db
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=5)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--db", default=None, help="answers database URL (default: SQLite in the study)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary study folder")
    parser.add_argument("--quick", action="store_true",
                        help="2 readers x 12 cases at 32 px: checks that the benchmark still works (tests)")
    args = parser.parse_args()
    if args.quick:
        args.readers, args.cases, args.size = 2, 12, 32

    base = Path(tempfile.mkdtemp(prefix="reader-core-"))
    _phantom_folders(base, args.cases, args.size)

    from ganaudit.reader_study.analysis import analyze_study
    from ganaudit.reader_study.create import create_study
    from ganaudit.reader_study.session import ReaderSession
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

    readers = [f"r{i:02d}" for i in range(args.readers)]
    t = time.perf_counter()
    create_study(base / "real", [(str(base / "fake_a"), "epoch-0010"), (str(base / "fake_b"), "epoch-0020")],
                 readers, args.cases, base / "study", seed=1)
    t_create = time.perf_counter() - t

    study = Study.open(base / "study")
    store = AnswerStore(args.db or study.default_db_url(), study=study)
    rnd = random.Random(0)
    latencies = []
    for reader in readers:
        session = ReaderSession(study, store, reader)
        case = session.current_case()
        while case is not None:
            t = time.perf_counter()
            session.submit(case, rnd.choice(["real", "fake"]), rnd.randint(1, 3))
            case = session.current_case()
            session.progress_text()
            latencies.append(time.perf_counter() - t)
    n_stored = len(store.answers_frame())
    store.close()
    latencies.sort()

    t = time.perf_counter()
    analyze_study(base / "study", db=args.db)
    t_analyze = time.perf_counter() - t

    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"create_study, {args.readers} readers x {args.cases} cases ({args.size} px): {t_create:.2f} s")
    print(f"submit + next case + progress ({'SQLite' if not args.db else 'database URL'}): "
          f"median {1000 * latencies[len(latencies) // 2]:.1f} ms, "
          f"p95 {1000 * latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms over {len(latencies)} answers")
    print(f"answers stored: {n_stored} (expected {args.readers * args.cases})")
    print(f"analyze_study: {t_analyze:.2f} s")
    if args.keep:
        print(f"study kept in {base / 'study'}")
    else:
        shutil.rmtree(base, ignore_errors=True)


def _phantom_folders(base: Path, n_cases: int, size: int) -> None:
    """Real and two 'fake' folders of phantom slices (different seeds stand in for checkpoints)."""
    import subprocess
    import sys

    for name, n, seed in (("real", n_cases, 1), ("fake_a", n_cases // 2, 2), ("fake_b", n_cases // 2, 3)):
        subprocess.run([sys.executable, "-m", "ganaudit", "data", "phantom", "--n", str(n), "--size", str(size),
                        "--out", str(base / f"{name}_src"), "--seed", str(seed)], check=True, capture_output=True)
        (base / f"{name}_src" / "images").rename(base / name)


if __name__ == "__main__":
    main()
