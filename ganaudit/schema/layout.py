"""Run and study folder layout: every path between the packages, built by one function each.

Run folder (``ganaudit train1d``/``train2d``/``import``, then ``score`` and ``report``)::

    RUN/run.json                                 settings to rebuild models and data
    RUN/history.csv                              one row per epoch (metrics.HISTORY_COLUMNS)
    RUN/checkpoints/generator-epoch-NNNN.keras   a loadable generator per epoch
    RUN/checkpoints/state-epoch-NNNN.npz         resume state (the newest two)
    RUN/checkpoints/samples-epoch-NNNN.npy       imported runs: a checkpoint's images
    RUN/checkpoints/generator-epoch-NNNN.onnx    imported runs: a checkpoint's generator
    RUN/samples/epoch-NNNN.png | .npy            2D sample grid | 1D generator points
    RUN/data/                                    2D: the training/held-out split
    RUN/scores.csv                               one row per checkpoint (metrics.SCORE_COLUMNS_*)
    RUN/baselines.json                           2D: real-vs-real baselines
    RUN/audit/scoring.json                       2D: scoring settings and notes
    RUN/audit/epoch-NNNN/{memorization,findings,detectability}/
    RUN/report/index.html, report.json, scores.csv, checkpoints/epoch-NNNN.html

Study folder: see :mod:`ganaudit.reader_study.study`; the names other packages read
(``STUDY/analysis/…``) are here.
"""

from __future__ import annotations

import re
from pathlib import Path

# ----------------------------------------------------------------------------- epoch names

#: ``epoch-NNNN``: the name of a checkpoint everywhere (files, folders, study labels).
EPOCH_LABEL_RE = re.compile(r"^epoch-(\d{4,})$")


def epoch_label(epoch: int) -> str:
    """``epoch-0012`` for 12 (four digits at least; more when the epoch needs them)."""
    return f"epoch-{int(epoch):04d}"


def label_epoch(label: str) -> int | None:
    """12 for ``epoch-0012``; None for any other label."""
    match = EPOCH_LABEL_RE.match(str(label))
    return int(match.group(1)) if match else None


def sample_names(epoch: int, n: int) -> list[str]:
    """File stems of ``n`` images generated at ``epoch``: ``epoch-0012-00000`` …"""
    return [f"{epoch_label(epoch)}-{i:05d}" for i in range(n)]


# ----------------------------------------------------------------------------- run folder

RUN_JSON = "run.json"
HISTORY_CSV = "history.csv"
SCORES_CSV = "scores.csv"
BASELINES_JSON = "baselines.json"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
DATA = "data"
AUDIT = "audit"
REPORT = "report"
SCORING_JSON = "scoring.json"
REPORT_JSON = "report.json"
REPORT_INDEX = "index.html"

# Inside RUN/audit/epoch-NNNN/<audit>/ and `ganaudit audit … --out DIR`: the files every audit
# writes, and the tables of the memorization and findings audits.
AUDIT_SUMMARY_JSON = "summary.json"
AUDIT_GALLERY_PNG = "gallery.png"
MEMORIZATION_CSV = "memorization.csv"
FINDINGS_CSV = "findings.csv"
MEMORIZATION_FILES = (MEMORIZATION_CSV, AUDIT_SUMMARY_JSON, AUDIT_GALLERY_PNG)
FINDINGS_FILES = (FINDINGS_CSV, AUDIT_SUMMARY_JSON, AUDIT_GALLERY_PNG)

GENERATOR_RE = re.compile(r"^generator-epoch-(\d{4,})\.keras$")
STATE_RE = re.compile(r"^state-epoch-(\d{4,})\.npz$")
IMPORTED_SAMPLES_RE = re.compile(r"^samples-epoch-(\d{4,})\.npy$")
IMPORTED_ONNX_RE = re.compile(r"^generator-epoch-(\d{4,})\.onnx$")


def _in_run(*parts: str):
    """The function ``folder → folder/parts…`` (a run or a study folder)."""
    def path(run_dir) -> Path:
        return Path(run_dir).joinpath(*parts)
    return path


def _per_epoch(folder: str, template: str):
    """The function ``(run_dir, epoch) → run_dir/folder/template`` with ``{label}`` = epoch-NNNN."""
    def path(run_dir, epoch: int) -> Path:
        return Path(run_dir) / folder / template.format(label=epoch_label(epoch))
    return path


run_json = _in_run(RUN_JSON)
history_csv = _in_run(HISTORY_CSV)
scores_csv = _in_run(SCORES_CSV)
baselines_json = _in_run(BASELINES_JSON)
checkpoints_dir = _in_run(CHECKPOINTS)
samples_dir = _in_run(SAMPLES)
data_dir = _in_run(DATA)
audit_dir = _in_run(AUDIT)
scoring_json = _in_run(AUDIT, SCORING_JSON)
report_dir = _in_run(REPORT)

#: 2D runs: the preprocessed images of each part of the split and, where known, their labels
#: or file names (data/train.npy, data/heldout_labels.csv, …).
SPLITS = ("train", "heldout")


def split_images(run_dir, split: str) -> Path:
    return data_dir(run_dir) / f"{split}.npy"


def split_labels_csv(run_dir, split: str) -> Path:
    return data_dir(run_dir) / f"{split}_labels.csv"


def split_names_csv(run_dir, split: str) -> Path:
    return data_dir(run_dir) / f"{split}_names.csv"


train_images = _in_run(DATA, "train.npy")
heldout_images = _in_run(DATA, "heldout.npy")
train_labels_csv = _in_run(DATA, "train_labels.csv")
train_names_csv = _in_run(DATA, "train_names.csv")

generator_file = _per_epoch(CHECKPOINTS, "generator-{label}.keras")
state_file = _per_epoch(CHECKPOINTS, "state-{label}.npz")
#: imported runs: a checkpoint's images, or its ONNX generator
imported_samples_file = _per_epoch(CHECKPOINTS, "samples-{label}.npy")
imported_onnx_file = _per_epoch(CHECKPOINTS, "generator-{label}.onnx")
#: 2D: the PNG grid of the checkpoint's first images; 1D: its generated points (NumPy)
sample_grid = _per_epoch(SAMPLES, "{label}.png")
sample_points = _per_epoch(SAMPLES, "{label}.npy")
checkpoint_audit_dir = _per_epoch(AUDIT, "{label}")


def report_page_name(epoch: int) -> str:
    """The checkpoint's page inside ``report/checkpoints/`` (links between pages use it)."""
    return f"{epoch_label(epoch)}.html"


def report_page(report, epoch: int) -> Path:
    """``report/checkpoints/epoch-NNNN.html`` under the report folder ``report``."""
    return Path(report) / CHECKPOINTS / report_page_name(epoch)


# ----------------------------------------------------------------------------- study folder

#: STUDY/analysis/: what ``ganaudit study analyze`` writes and the report and ``study plan`` read
ANALYSIS = "analysis"
ANALYSIS_CHECKPOINTS_CSV = "checkpoints.csv"
ANALYSIS_READERS_CSV = "readers.csv"
ANALYSIS_SUMMARY_JSON = "summary.json"
ANALYSIS_PLOT = "reader_accuracy.png"
COMPARISON_CSV = "comparison.csv"
COMPARISON_JSON = "comparison.json"
VARIANCE_JSON = "variance_components.json"

analysis_dir = _in_run(ANALYSIS)
