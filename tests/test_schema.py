"""The shared schema (issue 13): folder layout, metric registry, values. The formats between
packages are written once in ``ganaudit/schema/``; the grep tests below keep it that way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ganaudit.schema import layout

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("ganaudit", "gan_models", "evaluation", "reader_study", "reports")
LAYOUT_MODULE = REPO / "ganaudit" / "schema" / "layout.py"

# Names of the run folder that may only be joined onto a path inside the layout module.
RUN_NAMES = {layout.RUN_JSON, layout.HISTORY_CSV, layout.SCORES_CSV, layout.BASELINES_JSON,
             layout.CHECKPOINTS, layout.SAMPLES, layout.DATA, layout.AUDIT, layout.REPORT,
             layout.SCORING_JSON, layout.REPORT_JSON,
             # the study's analysis folder, written by reader_study and read by reports
             layout.ANALYSIS, layout.ANALYSIS_CHECKPOINTS_CSV, layout.ANALYSIS_READERS_CSV,
             layout.ANALYSIS_PLOT, layout.COMPARISON_CSV, layout.COMPARISON_JSON,
             layout.VARIANCE_JSON,
             # the files inside every checkpoint's audit folders
             layout.AUDIT_SUMMARY_JSON, layout.AUDIT_GALLERY_PNG, layout.MEMORIZATION_CSV,
             layout.FINDINGS_CSV}
# (file, name): a path that is not a run folder's (nilearn's own data folder).
NOT_RUN_PATHS = {("gan_models/phantom.py", "data")}


def _package_sources():
    for folder in PACKAGE_FOLDERS:
        yield from sorted((REPO / folder).rglob("*.py"))


def folder_pattern_uses(path: Path, root: Path = REPO) -> list[str]:
    """Where ``path`` builds or matches a folder pattern itself.

    Caught: an f-string whose literal part ends in ``epoch-`` before a formatted value
    (``f"epoch-{epoch:04d}"``); a string holding ``epoch-(``, ``epoch-*`` or ``epoch-{`` (a
    regular expression, glob or format template); ``something / "checkpoints"`` and the other
    run-folder names joined onto a path. Prose such as "epoch-NNNN" in a message is allowed.
    """
    found = []
    rel = path.relative_to(root).as_posix()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.JoinedStr):
            for a, b in zip(node.values, node.values[1:]):
                if isinstance(a, ast.Constant) and isinstance(b, ast.FormattedValue) \
                        and str(a.value).endswith("epoch-"):
                    found.append(f"{rel}:{node.lineno}: f-string 'epoch-{{…}}'")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(t in node.value for t in ("epoch-(", "epoch-*", "epoch-{")):
                found.append(f"{rel}:{node.lineno}: pattern {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
                and isinstance(node.right, ast.Constant) and node.right.value in RUN_NAMES \
                and (rel, node.right.value) not in NOT_RUN_PATHS:
            found.append(f"{rel}:{node.lineno}: path / {node.right.value!r}")
    return found


def test_the_folder_pattern_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import re\n"
        "a = f'epoch-{epoch:04d}.png'\n"
        "b = re.compile(r'^generator-epoch-(\\d{4,})\\.keras$')\n"
        "c = run / 'scores.csv'\n"
        "d = 'epoch-{:04d}'.format(3)\n"
        "ok = ('see samples/epoch-NNNN.png', f'epoch {epoch}', run / 'other.csv')\n")
    assert sorted(f.split(": ", 1)[1] for f in folder_pattern_uses(probe, tmp_path)) == sorted([
        "f-string 'epoch-{…}'", "pattern '^generator-epoch-(\\\\d{4,})\\\\.keras$'",
        "path / 'scores.csv'", "pattern 'epoch-{:04d}'"])


def test_folder_patterns_are_written_only_in_the_layout_module():
    found = [use for path in _package_sources() if path != LAYOUT_MODULE
             for use in folder_pattern_uses(path)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("epoch, label", [(0, "epoch-0000"), (12, "epoch-0012"), (12345, "epoch-12345")])
def test_epoch_labels_round_trip(epoch, label):
    assert layout.epoch_label(epoch) == label
    assert layout.label_epoch(label) == epoch
    assert layout.GENERATOR_RE.match(layout.generator_file("r", epoch).name).group(1) == label[6:]
    assert layout.STATE_RE.match(layout.state_file("r", epoch).name).group(1) == label[6:]


def test_run_paths():
    run = Path("RUN")
    assert layout.generator_file(run, 3) == run / "checkpoints" / "generator-epoch-0003.keras"
    assert layout.imported_onnx_file(run, 3) == run / "checkpoints" / "generator-epoch-0003.onnx"
    assert layout.imported_samples_file(run, 3) == run / "checkpoints" / "samples-epoch-0003.npy"
    assert layout.sample_grid(run, 3) == run / "samples" / "epoch-0003.png"
    assert layout.sample_points(run, 3) == run / "samples" / "epoch-0003.npy"
    assert layout.checkpoint_audit_dir(run, 3) == run / "audit" / "epoch-0003"
    assert layout.report_page(run / "report", 3) == run / "report" / "checkpoints" / "epoch-0003.html"
    assert layout.sample_names(3, 2) == ["epoch-0003-00000", "epoch-0003-00001"]
    assert layout.label_epoch("epoch-12") is None and layout.label_epoch("real") is None


# ----------------------------------------------------------------------------- metrics

from ganaudit.schema import metrics as M  # noqa: E402

METRICS_MODULE = REPO / "ganaudit" / "schema" / "metrics.py"
# Column names too generic to own: "epoch", "seconds" (also reader timings), the set sizes
# "n_real"/"n_generated" (also audit and study summaries), "features" (a setting's name).
_GENERIC = {M.EPOCH, M.SECONDS, M.N_REAL, M.N_GENERATED, M.FEATURES, M.KIND_1D, M.KIND_2D}
REGISTERED = {value for name, value in vars(M).items()
              if name.isupper() and isinstance(value, str) and value not in _GENERIC}


def metric_literals(path: Path, root: Path = REPO) -> list[str]:
    """String literals in ``path`` (f-string expressions included) that are exactly a registered
    metric or column name (``"fd_inf"``, ``'kid_std'``, ``"healthy"`` …)."""
    rel = path.relative_to(root).as_posix()
    return [f"{rel}:{node.lineno}: {node.value!r}"
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in REGISTERED] + [
        # a column spelled as a keyword: row.update(ct_score=…), dict(kid_mean=…)
        f"{rel}:{node.lineno}: {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id}"
        f"({keyword.arg}=…)"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "update")
            or (isinstance(node.func, ast.Name) and node.func.id == "dict"))
        for keyword in node.keywords if keyword.arg in REGISTERED]


def test_the_metric_literal_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("a = row['fd_inf']\nb = f\"{row['kid_std']:.3g}\"\nc = {'healthy': True}\n"
                     "row.update(ct_score=1.0, epoch=3)\nd = dict(mifid=2.0)\n"
                     "ok = ('epoch', 'the fd_inf column', row[M.FD], f(ct_score=1))\n")
    assert sorted(f.split(": ", 1)[1] for f in metric_literals(probe, tmp_path)) == [
        "'fd_inf'", "'healthy'", "'kid_std'", "dict(mifid=…)", "update(ct_score=…)"]


def test_metric_names_are_written_only_in_the_registry():
    found = [use for path in _package_sources() if path != METRICS_MODULE
             for use in metric_literals(path)]
    assert found == [], "\n".join(found)


def test_the_column_lists_hold_registered_names_once():
    for columns in (M.SCORE_COLUMNS_2D, M.SCORE_COLUMNS_1D, M.FOLDER_COLUMNS, M.HISTORY_COLUMNS):
        assert len(columns) == len(set(columns))
    assert set(M.HISTORY_IN_SCORES) <= set(M.HISTORY_COLUMNS)
    for name, metric in M.METRICS.items():
        assert metric.name == name and metric.direction in ("lower", "higher", "≈ 0", "≈ 1")
        columns = {M.KIND_1D: M.SCORE_COLUMNS_1D, M.KIND_2D: M.SCORE_COLUMNS_2D}
        for kind in metric.kinds:
            assert name in columns[kind], (name, kind)
        if metric.interval is not None and name != M.KID_MEAN:  # KID's comes from kid_std
            # A 1D run's FD has no interval (1D scoring computes none).
            for kind in set(metric.kinds) - ({M.KIND_1D} if name == M.FD else set()):
                assert set(metric.interval) <= set(columns[kind]), (name, kind)
    assert M.RANKING_METRICS == [M.FD_INF, M.FD, M.KID_MEAN, M.TRUE_ERROR]
    assert all(M.METRICS[m].direction == "lower" for m in M.RANKING_METRICS)


def test_an_unknown_metric_names_the_known_ones():
    from ganaudit.gan_models.errors import InputError

    assert M.metric(M.FD).label == "FD"
    with pytest.raises(InputError, match=r"unknown metric 'fid'; known: fd_inf, fd, "):
        M.metric("fid")


# ----------------------------------------------------------------------------- values

import json  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ganaudit.schema.values import folder_problem, json_text, parse_bool  # noqa: E402


@pytest.mark.parametrize("cell, expected", [
    (True, True), (False, False), (np.bool_(True), True), (1, True), (0.0, False),
    ("True", True), (" false ", False), ("1.0", True), ("0", False), ("yes", True), ("NO", False),
    (None, None), (math.nan, None), (pd.NA, None), ("", None), ("maybe", None),
])
def test_parse_bool(cell, expected):
    assert parse_bool(cell) is expected


def test_a_healthy_column_reads_the_same_in_training_and_reports(tmp_path):
    # history.csv as pandas, a spreadsheet and an imported log write it: both readers agree.
    from ganaudit.gan_models.runs import read_history
    from ganaudit.reports.load import _as_bool

    cells = ["True", "false", "1", "0.0", "", "yes"]
    frame = pd.DataFrame({M.EPOCH: range(1, 7), M.D_LOSS: 0.5, M.G_LOSS: 0.5, M.D_ACC_REAL: 0.5,
                          M.D_ACC_FAKE: 0.5, M.SECONDS: 1.0, M.HEALTHY: cells})
    frame.to_csv(tmp_path / layout.HISTORY_CSV, index=False)
    training = read_history(tmp_path)[M.HEALTHY].tolist()
    report = _as_bool(pd.read_csv(tmp_path / layout.HISTORY_CSV)[M.HEALTHY]).tolist()
    assert [None if v is pd.NA else v for v in training] == [True, False, True, False, None, True]
    assert [None if v is pd.NA else v for v in report] == [True, False, True, False, None, True]


def test_json_text_is_strict_json():
    text = json_text({"a": math.nan, "b": [np.float32(1.5), -math.inf, (np.int64(2), np.bool_(True))],
                      "c": np.arange(2), "d": Path("x/y")})

    def refuse(name):
        raise AssertionError(f"{name} in JSON")

    assert json.loads(text, parse_constant=refuse) == {"a": None, "b": [1.5, None, [2, True]],
                                                       "c": [0, 1], "d": "x/y"}
    assert text.endswith("}\n")
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        json_text({"x": object()})


def test_every_json_writer_is_strict(tmp_path):
    from ganaudit.gan_models.atomic import write_json

    write_json(tmp_path / "s.json", {"ct_score": math.nan})
    assert (tmp_path / "s.json").read_text() == '{\n  "ct_score": null\n}\n'


def test_folder_problem(tmp_path):
    assert folder_problem(tmp_path / "new") is None
    assert folder_problem(tmp_path) is None  # empty
    (tmp_path / "file").write_text("x")
    assert folder_problem(tmp_path / "file") == "is a file"
    assert folder_problem(tmp_path) == "is not empty"
    assert folder_problem(tmp_path, marker="file") is None
    assert folder_problem(tmp_path, ours=("file",)) is None
    for name in "abcd":
        (tmp_path / name).write_text("x")
    assert folder_problem(tmp_path, ours=("file",)) == "holds other files (a, b, c and 1 more)"
