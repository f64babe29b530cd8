"""`ganaudit study create | serve | analyze` from the command line (in-process)."""

from __future__ import annotations

import json
import socket
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganaudit.cli import main
from ganaudit.commands.study import parse_fake
from ganaudit.gan_models.data import write_png16


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


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganaudit study: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_create_default_seed_is_drawn_and_kept_in_the_key(folders, capsys):
    assert _create(folders) == 0
    out = capsys.readouterr().out
    seed = json.loads((folders / "study" / "key" / "seed.json").read_text())["seed"]
    assert str(seed) not in out  # printed credentials end up in terminal logs; the seed must not
    for name in ("study.json", "readers.json", "credentials.txt"):
        assert str(seed) not in (folders / "study" / name).read_text()


def test_create_refuses_a_negative_seed(folders, capsys):
    assert _create(folders, "--seed", "-1") == 2
    assert "--seed must be a whole number >= 0, got -1" in _one_error(capsys)
    assert not (folders / "study").exists()


def test_create_refuses_fakes_inside_the_real_folder(folders, capsys):
    write_png16(np.zeros((6, 16, 16), np.float32), folders / "real" / "generated")
    code = main(["study", "create", "--real", str(folders / "real"), "--fake", str(folders / "real" / "generated"),
                 "--readers", "alice", "--cases", "4", "--out", str(folders / "s")])
    assert code == 2
    assert "--fake folder" in (err := _one_error(capsys)) and "lies inside --real folder" in err
    assert not (folders / "s").exists()


def test_create_refuses_a_missing_readers_file(folders, capsys):
    code = main(["study", "create", "--real", str(folders / "real"), "--fake", str(folders / "ckpt_a"),
                 "--readers", "readers.txt", "--cases", "4", "--out", str(folders / "s")])
    assert code == 2
    assert "'readers.txt' looks like a file name, but there is no such file" in _one_error(capsys)
    assert not (folders / "s").exists()


def test_readers_from_file(folders):
    (folders / "readers.txt").write_text("r1\nr2\nr3\n")
    code = main(["study", "create", "--real", str(folders / "real"), "--fake", str(folders / "ckpt_a"),
                 "--readers", str(folders / "readers.txt"), "--cases", "4", "--out", str(folders / "s")])
    assert code == 0
    from ganaudit.reader_study.study import Study

    assert Study.open(folders / "s").reader_ids == ["r1", "r2", "r3"]


def test_analyze_before_and_after_answers(folders, capsys):
    from ganaudit.reader_study.session import ReaderSession
    from ganaudit.reader_study.store import AnswerStore
    from ganaudit.reader_study.study import Study

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


def test_analyze_refuses_a_negative_seed(folders, capsys):
    assert _create(folders) == 0
    capsys.readouterr()
    assert main(["study", "analyze", str(folders / "study"), "--seed", "-1"]) == 2
    assert "--seed must be a whole number >= 0, got -1" in _one_error(capsys)


@pytest.mark.parametrize("content", ["", 'case_id,truth,label\n"abc,real\n'], ids=["empty", "garbled"])
def test_analyze_with_a_damaged_key(folders, capsys, content):
    assert _create(folders) == 0
    capsys.readouterr()
    (folders / "study" / "key" / "key.csv").write_text(content)
    assert main(["study", "analyze", str(folders / "study")]) == 2
    err = _one_error(capsys)
    assert "key.csv is damaged" in err and "restore the key/ folder" in err


def test_analyze_with_a_mistyped_db_creates_nothing(folders, capsys):
    assert _create(folders) == 0
    capsys.readouterr()
    typo = folders / "typo.db"
    assert main(["study", "analyze", str(folders / "study"), "--db", f"sqlite:///{typo}"]) == 2
    assert "no answers database file at" in _one_error(capsys)
    assert not list(folders.glob("typo.db*"))


@pytest.mark.parametrize("port", ["99999", "-5", "0", "65536"])
def test_serve_refuses_a_port_out_of_range(folders, capsys, port):
    assert _create(folders) == 0
    capsys.readouterr()
    assert main(["study", "serve", str(folders / "study"), "--port", port]) == 2
    assert f"--port must be a whole number from 1 to 65535, got {port}" in _one_error(capsys)


@pytest.mark.parametrize("address", ["no.such.host.invalid", "a" * 300])
def test_serve_refuses_an_address_it_cannot_resolve(folders, capsys, monkeypatch, address):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        # No DNS lookup in tests: answer for the .invalid name as a resolver would.
        if host == "no.such.host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    assert _create(folders) == 0
    capsys.readouterr()
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert main(["study", "serve", str(folders / "study"), "--port", "5999", "--address", address]) == 2
    err = _one_error(capsys)
    assert f"{address!r} does not resolve to an address" in err and "--address 127.0.0.1" in err


def test_serve_passes_options_to_the_app(folders, monkeypatch):
    calls = {}
    fake = types.ModuleType("ganaudit.reader_study.app.serve")

    def serve(study_dir, *, port, db, address):
        calls.update(study_dir=study_dir, port=port, db=db, address=address)
        return 0

    fake.serve = serve
    monkeypatch.setitem(sys.modules, "ganaudit.reader_study.app.serve", fake)
    assert main(["study", "serve", "STUDY", "--port", "5123", "--db", "postgresql://u@h/db",
                 "--address", "0.0.0.0"]) == 0
    assert calls == {"study_dir": "STUDY", "port": 5123, "db": "postgresql://u@h/db", "address": "0.0.0.0"}


def test_serve_names_the_answers_file_it_uses(folders, capsys, monkeypatch):
    """The start-up line names the real answers file, not a literal 'STUDY/answers.db'."""
    import panel as pn

    from ganaudit.reader_study.app import serve as serve_module

    assert _create(folders) == 0
    capsys.readouterr()
    served = []
    monkeypatch.setattr(pn.config, "authorize_callback", pn.config.authorize_callback)
    monkeypatch.setattr(serve_module, "_serve_apps", lambda *args, **kwargs: served.append(kwargs["port"]))
    assert main(["study", "serve", str(folders / "study"), "--port", "5998"]) == 0
    out = capsys.readouterr().out
    assert served == [5998]
    assert f"answers in {folders / 'study' / 'answers.db'}." in out, out
    assert "STUDY/" not in out


def test_help_lists_steps(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "create" in out and "serve" in out and "analyze" in out
