"""`ganaudit study create | serve | analyze` from the command line (in-process)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganaudit.cli import main
from ganaudit.commands.study import parse_fake
from gan_models.data import write_png16


@pytest.fixture()
def folders(tmp_path):
    rng = np.random.default_rng(0)
    write_png16(rng.uniform(-1, 1, (10, 16, 16)).astype(np.float32), tmp_path / "real")
    write_png16(rng.uniform(-1, 1, (6, 16, 16)).astype(np.float32), tmp_path / "ckpt_a")
    write_png16(rng.uniform(-1, 1, (6, 16, 16)).astype(np.float32), tmp_path / "ckpt_b")
    return tmp_path


def _create(base: Path, *extra: str) -> int:
    return main(["study", "create", "--real", str(base / "real"), "--fake", f"{base / 'ckpt_a'}=epoch-0004",
                 "--fake", str(base / "ckpt_b"), "--readers", "alice,bob", "--cases", "8",
                 "--out", str(base / "study"), *extra])


@pytest.mark.parametrize("value, expected", [
    ("runs/a/samples=epoch-0040", ("runs/a/samples", "epoch-0040")),
    ("runs/a/samples", ("runs/a/samples", "samples")),
    ("runs/a/samples/", ("runs/a/samples/", "samples")),
    ("odd=name/dir", ("odd=name/dir", "dir")),
])
def test_parse_fake(value, expected):
    assert parse_fake(value) == expected


def test_create_prints_credentials_once_and_writes_study(folders, capsys):
    assert _create(folders, "--seed", "2", "--practice", "2") == 0
    out = capsys.readouterr().out
    assert "created study" in out and "real 4, epoch-0004 2, ckpt_b 2, practice 2" in out
    assert out.count("password:") == 3 and "invite token:" in out
    key = pd.read_csv(folders / "study" / "key" / "key.csv")
    assert sorted(key["label"].unique()) == ["ckpt_b", "epoch-0004", "real"]
    assert (folders / "study" / "credentials.txt").is_file()


def test_create_refuses_existing_study(folders, capsys):
    assert _create(folders) == 0
    capsys.readouterr()
    assert _create(folders) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganaudit study: error: study folder") and "not empty" in err and "\n" not in err


def test_create_too_few_images(folders, capsys):
    code = main(["study", "create", "--real", str(folders / "real"), "--fake", str(folders / "ckpt_a"),
                 "--readers", "alice", "--cases", "20", "--out", str(folders / "big")])
    assert code == 2
    assert "too few fake (ckpt_a) images" in capsys.readouterr().err
    assert not (folders / "big").exists()


def test_readers_from_file(folders):
    (folders / "readers.txt").write_text("r1\nr2\nr3\n")
    code = main(["study", "create", "--real", str(folders / "real"), "--fake", str(folders / "ckpt_a"),
                 "--readers", str(folders / "readers.txt"), "--cases", "4", "--out", str(folders / "s")])
    assert code == 0
    from reader_study.study import Study

    assert Study.open(folders / "s").reader_ids == ["r1", "r2", "r3"]


def test_analyze_before_and_after_answers(folders, capsys):
    from reader_study.session import ReaderSession
    from reader_study.store import AnswerStore
    from reader_study.study import Study

    assert _create(folders) == 0
    capsys.readouterr()
    assert main(["study", "analyze", str(folders / "study")]) == 2
    assert "no counted answers yet" in capsys.readouterr().err
    study = Study.open(folders / "study")
    store = AnswerStore(study.default_db_url())
    for reader in study.reader_ids:
        s = ReaderSession(study, store, reader)
        i = 0
        while (case := s.current_case()) is not None:
            s.submit(case, "fake" if i % 3 else "real", 1 + i % 3)
            i += 1
    store.close()
    assert main(["study", "analyze", str(folders / "study"), "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "pooled accuracy" in out and "MRMC AUC" in out and "epoch-0004: fool rate" in out
    assert (folders / "study" / "analysis" / "checkpoints.csv").is_file()


def test_analyze_without_key(folders, capsys):
    assert _create(folders) == 0
    capsys.readouterr()
    (folders / "study" / "key" / "key.csv").unlink()
    assert main(["study", "analyze", str(folders / "study")]) == 2
    assert "no key/key.csv" in capsys.readouterr().err


def test_serve_passes_options_to_the_app(folders, monkeypatch):
    calls = {}
    fake = types.ModuleType("reader_study.app.serve")

    def serve(study_dir, *, port, db, address):
        calls.update(study_dir=study_dir, port=port, db=db, address=address)
        return 0

    fake.serve = serve
    monkeypatch.setitem(sys.modules, "reader_study.app.serve", fake)
    assert main(["study", "serve", "STUDY", "--port", "5123", "--db", "postgresql://u@h/db",
                 "--address", "0.0.0.0"]) == 0
    assert calls == {"study_dir": "STUDY", "port": 5123, "db": "postgresql://u@h/db", "address": "0.0.0.0"}


def test_help_lists_steps(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "create" in out and "serve" in out and "analyze" in out
