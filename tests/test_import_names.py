"""Import names (issue 13): the packages import as ``ganaudit.gan_models``, ``ganaudit.evaluation``,
``ganaudit.reader_study`` and ``ganaudit.reports`` — one name each, so a registry is never loaded
twice — and a user's own ``evaluation/`` or ``reports/`` package on the path changes nothing."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ganaudit._packages import PACKAGES
from ganaudit.gan_models.data import write_png16
from tests.evaluation.test_scoring2d import blob_images

REPO = Path(__file__).resolve().parents[1]
# Every folder whose Python files may import our packages.
SOURCE_FOLDERS = ("ganaudit", *PACKAGES, "tests", "bench", "scripts")
_BARE = "|".join(PACKAGES)
# A module path written as a string (patch targets, import_module, module:function specs).
_MODULE_STRING = re.compile(rf"^({_BARE})(\.(?!(md|py|csv|json|html)\b)[A-Za-z_]|:[A-Za-z_])")
_DOC_IMPORT = re.compile(rf"^\s*(from|import)\s+({_BARE})\b", re.M)


def _sources():
    # This file is left out: it writes bare names on purpose (the probe and the user's packages).
    for folder in SOURCE_FOLDERS:
        yield from (p for p in sorted((REPO / folder).rglob("*.py")) if p != Path(__file__).resolve())


def _bare_references(path: Path, root: Path = REPO) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in PACKAGES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in PACKAGES:
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"string {line.strip()!r}" for line in node.value.splitlines()
                      if _MODULE_STRING.match(line.strip())
                      or _DOC_IMPORT.match(line)]
    return [f"{path.relative_to(root)}:{what}" for what in found]


def test_the_checker_sees_bare_names(tmp_path):
    # The check below must be able to fail: each spelling of a bare reference is caught.
    probe = tmp_path / "probe.py"
    probe.write_text("import evaluation.kid\nfrom reports import build\n"
                     "import ganaudit.evaluation\n"
                     "x = 'gan_models.runs'\ny = 'reader_study.app.serve:serve'\n"
                     "z = 'from evaluation.frechet import fd_infinity'\n"
                     "ok = ('tests.evaluation.test_kid', 'reports.md', 'evaluation')\n")
    found = [ref.split(":", 1)[1] for ref in _bare_references(probe, tmp_path)]
    assert found == ["import evaluation.kid", "from reports import …", "string 'gan_models.runs'",
                     "string 'reader_study.app.serve:serve'",
                     "string 'from evaluation.frechet import fd_infinity'"], found


def test_no_source_file_uses_a_bare_package_name():
    found = [ref for path in _sources() for ref in _bare_references(path)]
    assert found == [], "\n".join(found)


def test_no_doc_code_sample_uses_a_bare_package_name():
    found = [f"{path.relative_to(REPO)}: {m.group(0).strip()}"
             for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
             for m in _DOC_IMPORT.finditer(path.read_text())]
    assert found == [], "\n".join(found)


def test_pyproject_maps_every_package_folder():
    # A sub-package missing from the list would be missing from the wheel, silently.
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {f"ganaudit.{name}": name for name in PACKAGES}
    expected = set()
    for top in ("ganaudit", *PACKAGES):
        for init in (REPO / top).rglob("__init__.py"):
            parts = init.parent.relative_to(REPO).parts
            expected.add(".".join(parts if top == "ganaudit" else ("ganaudit", *parts)))
    assert sorted(config["packages"]) == sorted(expected)


def test_every_module_imports_under_one_name():
    # Import every module of ganaudit from the repository root (where bare ``evaluation`` would
    # also import): no module of this repository may be loaded under a bare name as well.
    code = (
        "import importlib, pkgutil, sys\n"
        "from pathlib import Path\n"
        "import ganaudit\n"
        "from ganaudit._packages import PACKAGES\n"
        "names = [m.name for m in pkgutil.walk_packages(ganaudit.__path__, 'ganaudit.')]\n"
        "for pkg in PACKAGES:\n"
        "    p = importlib.import_module('ganaudit.' + pkg)\n"
        "    names += [p.__name__] + [m.name for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]\n"
        "names = [n for n in names if not n.endswith('__main__')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "repo = Path.cwd().resolve()\n"
        "bare = sorted(n for n, m in list(sys.modules.items()) if n.split('.')[0] in PACKAGES\n"
        "              and getattr(m, '__file__', None) and Path(m.__file__).resolve().is_relative_to(repo))\n"
        "print(len(names), bare)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    count, bare = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 60 and bare == "[]", done.stdout


@pytest.fixture
def user_project(tmp_path):
    """A user's folder with its own ``evaluation`` and ``reports`` packages and two image folders."""
    for name in ("evaluation", "reports"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"WHO = 'the user\\'s {name}'\n")
    write_png16(blob_images(30, seed=1), tmp_path / "A")
    write_png16(blob_images(30, seed=2), tmp_path / "B")
    return tmp_path


def _installed() -> bool:
    # Whether ganaudit imports without the repository on the path (an editable or wheel install).
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run([sys.executable, "-c", "import ganaudit"], cwd="/", env=env,
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("how", ["checkout", "installed"])
def test_a_users_own_evaluation_and_reports_do_not_shadow_ours(user_project, how):
    if how == "installed" and not _installed():
        pytest.skip("ganaudit is not installed in this environment")
    # The user's folder comes first on the path and is the working directory (a notebook).
    paths = [str(user_project)] + ([str(REPO)] if how == "checkout" else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    score = subprocess.run([sys.executable, "-m", "ganaudit", "score", "--real", "A", "--fake", "B",
                            "--features", "pixels"], cwd=user_project, env=env,
                           capture_output=True, text=True, timeout=600)
    assert score.returncode == 0, score.stderr[-3000:]
    assert score.stdout.startswith("scored 30 generated images against 30 real"), score.stdout
    code = (
        "import evaluation, reports\n"
        "import numpy as np\n"
        "from ganaudit.evaluation import frechet_distance_from_features\n"
        "from ganaudit.reports.stopping import decide\n"
        "import ganaudit.evaluation, ganaudit.reports\n"
        "a = np.random.default_rng(0).normal(size=(50, 3))\n"
        "print(evaluation.WHO, '|', reports.WHO)\n"
        "print(ganaudit.evaluation.__file__)\n"
        "print(ganaudit.reports.__file__)\n"
        "print(frechet_distance_from_features(a, a + 1.0))\n"
    )
    api = subprocess.run([sys.executable, "-c", code], cwd=user_project, env=env,
                         capture_output=True, text=True, timeout=300)
    assert api.returncode == 0, api.stderr[-3000:]
    who, evaluation_file, reports_file, fd = api.stdout.strip().splitlines()[-4:]
    assert who == "the user's evaluation | the user's reports"
    for line in (evaluation_file, reports_file):
        assert not Path(line).resolve().is_relative_to(user_project.resolve()), line
    assert float(fd) == pytest.approx(3.0, rel=1e-6)


def test_only_the_four_packages_join_the_ganaudit_namespace():
    code = ("import importlib.util, ganaudit\n"
            "print([importlib.util.find_spec('ganaudit.' + n) is not None\n"
            "       for n in ('tests', 'bench', 'scripts', 'docs', 'evaluation', 'reports')])\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[False, False, False, False, True, True]"
