"""Small hand-written run and study folders (plausible numbers, no training) for report tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def _history(epochs, healthy):
    rows = []
    for i, epoch in enumerate(epochs):
        ok = healthy[i]
        rows.append({"epoch": epoch, "d_loss": 1.3 - 0.02 * i, "g_loss": 0.8 + 0.03 * i,
                     "d_acc_real": 0.62 if ok else 0.97, "d_acc_fake": 0.58 if ok else 0.99,
                     "seconds": 1.5, "healthy": ok})
    return pd.DataFrame(rows)


def _png(path: Path, seed: int, size: int = 32) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.uniform(0, 255, (size, size))).astype(np.uint8)).save(path)


def make_run_1d(root: Path, values, *, half_width=0.01, healthy=None, pattern="sine",
                with_ci=True) -> Path:
    """A 1D run whose true error per epoch is ``values`` (CI ± ``half_width``)."""
    run = root / "run1d"
    epochs = list(range(1, len(values) + 1))
    healthy = healthy if healthy is not None else [True] * len(values)
    (run / "samples").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({
        "kind": "1d", "latent_dim": 5, "loss": "modified", "seed": 0, "backend": "tensorflow",
        "epochs": len(values), "batch_size": 128,
        "pattern": {"name": pattern, "x_range": [-3.14159, 3.14159], "y_range": [-1, 1]}}))
    history = _history(epochs, healthy)
    history.to_csv(run / "history.csv", index=False)
    scores = pd.DataFrame({"epoch": epochs, "precision_error": values, "coverage_error": values,
                           "true_error": values})
    if with_ci:
        scores["true_error_ci_low"] = np.asarray(values) - half_width
        scores["true_error_ci_high"] = np.asarray(values) + half_width
    scores["true_error_rel"] = np.asarray(values) / 2
    scores["fd"] = np.asarray(values) * 3
    for col in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "healthy"):
        scores[col] = history[col]
    scores.to_csv(run / "scores.csv", index=False)
    rng = np.random.default_rng(0)
    for epoch, err in zip(epochs, values):
        x = rng.uniform(-3.1, 3.1, 300)
        pts = np.stack([x, np.sin(x) + rng.normal(0, err, 300)], axis=1).astype(np.float32)
        np.save(run / "samples" / f"epoch-{epoch:04d}.npy", pts)
    return run


def write_baselines(run: Path, level: float) -> None:
    """``RUN/baselines.json`` as ``ganaudit score`` writes it: real-vs-real FD∞ = ``level``."""
    metrics = {"fd_inf": {"value": level, "ci_low": level - 0.2, "ci_high": level + 0.2},
               "fd": {"value": level + 2, "ci_low": level + 1.5, "ci_high": level + 2.5},
               "kid_mean": {"value": level / 100, "ci_low": None, "ci_high": None},
               "precision": {"value": 0.85, "ci_low": None, "ci_high": None},
               "recall": {"value": 0.9, "ci_low": None, "ci_high": None},
               "density": {"value": 1.0, "ci_low": None, "ci_high": None},
               "coverage": {"value": 0.95, "ci_low": None, "ci_high": None},
               "authenticity": {"value": 0.6, "ci_low": None, "ci_high": None}}
    anchor = {"fd_inf": 3 * level, "fd": 3 * level + 2, "kid_mean": 3 * level / 100}
    (run / "baselines.json").write_text(json.dumps({
        "metrics": metrics, "anchors": {"blur-0.5px": {"description": "blurred", "n": 40,
                                                       "metrics": anchor}}, "n_real": 160, "n_other": 40, "features": "radiomics", "seed": 0,
        "source": "training images vs held-out real images", "notes": []}))


def make_run_2d(root: Path, fd_inf, *, half_width=0.3, memorization=None, impossible=None,
                significant=None, healthy=None, audits=True, baseline=1.5) -> Path:
    """A 2D run whose FD∞ per epoch is ``fd_inf``; per-epoch gates set by the keyword lists;
    real-vs-real FD∞ ``baseline`` (None: no baselines.json)."""
    run = root / "run2d"
    n = len(fd_inf)
    epochs = list(range(1, n + 1))
    memorization = memorization if memorization is not None else [0.01] * n
    impossible = impossible if impossible is not None else [0] * n
    significant = significant if significant is not None else [False] * n
    healthy = healthy if healthy is not None else [True] * n
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({
        "kind": "2d", "image_size": 32, "latent_dim": 64, "loss": "modified", "seed": 0,
        "backend": "tensorflow", "epochs": n, "batch_size": 32,
        "data": {"source": "phantom", "n": 200}}))
    history = _history(epochs, healthy)
    history.to_csv(run / "history.csv", index=False)
    if baseline is not None:
        write_baselines(run, baseline)
    fd = np.asarray(fd_inf, dtype=float)
    mem = np.asarray(memorization, dtype=float)
    scores = pd.DataFrame({
        "epoch": epochs, "n_generated": 200, "fd": fd + 2, "fd_ci_low": fd + 1.5,
        "fd_ci_high": fd + 2.5, "fd_inf": fd, "fd_inf_ci_low": fd - half_width,
        "fd_inf_ci_high": fd + half_width, "kid_mean": fd / 100, "kid_std": 0.002,
        "precision": 0.7, "recall": 0.6, "density": 0.9, "coverage": 0.8,
        "memorization_rate": mem, "memorization_rate_ci_low": np.clip(mem - 0.02, 0, 1),
        "memorization_rate_ci_high": np.clip(mem + 0.02, 0, 1), "memorization_threshold": 0.93,
        "ct_score": 0.1, "authenticity": 0.9, "mifid": fd * 1.1,
        "findings_impossible": impossible, "findings_min_p": [0.001 if s else 0.4 for s in significant],
        "findings_significant": significant})
    for col in ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "healthy"):
        scores[col] = history[col]
    scores.to_csv(run / "scores.csv", index=False)
    for epoch in epochs:
        _png(run / "samples" / f"epoch-{epoch:04d}.png", epoch)
        if not audits:
            continue
        i = epoch - 1
        base = run / "audit" / f"epoch-{epoch:04d}"
        mdir, fdir = base / "memorization", base / "findings"
        mdir.mkdir(parents=True)
        fdir.mkdir(parents=True)
        _png(mdir / "gallery.png", 100 + epoch, size=48)
        _png(fdir / "gallery.png", 200 + epoch, size=48)
        pd.DataFrame({"file": [f"gen-{k:03d}.png" for k in range(5)],
                      "nearest_train": [f"train-{k:03d}.png" for k in range(5)],
                      "ncc": [0.99, 0.95, 0.9, 0.85, 0.8], "flagged": [1, 1, 0, 0, 0]}
                     ).to_csv(mdir / "memorization.csv", index=False)
        (mdir / "summary.json").write_text(json.dumps({
            "rate": mem[i], "rate_ci_low": max(0, mem[i] - 0.02), "rate_ci_high": mem[i] + 0.02,
            "threshold": 0.93, "threshold_source": "99th percentile of held-out NCC",
            "n_flagged": int(mem[i] * 200), "ct_score": 0.1, "authenticity": 0.9,
            "mifid": 3.0}))
        gen_ventricles = 0.45 if significant[i] else 0.21
        findings = {
            "lesion": _finding("lesion", "finding", 0.3, 0.32, 0.7),
            "enlarged_ventricles": _finding("enlarged_ventricles", "finding", 0.2, gen_ventricles,
                                            0.001 if significant[i] else 0.8,
                                            passed=not significant[i]),
            "lesion_side=left": _finding("lesion_side=left", "location", 0.3, 0.3, 1.0),
            "lesion_side=right": _finding("lesion_side=right", "location", 0.0,
                                          impossible[i] / 200, 0.5, passed=not impossible[i]),
        }
        combos = [dict(_finding("lesion_side=right", "combination", 0.0, impossible[i] / 200,
                                0.01 if impossible[i] else 1.0, passed=not impossible[i]),
                       alternative="greater")]
        failed = [k for k, v in findings.items() if not v["passed"]]
        (fdir / "summary.json").write_text(json.dumps({  # the findings audit's format
            "detector": "builtin:phantom", "n_real": 200, "n_generated": 200,
            "real_source": "detector", "alpha": 0.05, "margin": 0.02, "correction": "holm",
            "ci_level": 0.95, "difference_ci_level": 0.99, "n_tests": 5,
            "findings": findings, "impossible_combinations": combos,
            "impossible_checked": True, "min_real": 200,
            "impossible": int(impossible[i]), "impossible_rate": impossible[i] / 200,
            "min_p": 0.001 if significant[i] else 0.7, "significant": bool(significant[i]),
            "failed": failed, "passed": not failed, "detector_accuracy": None, "labels": None,
            "cooccurrence": {}}))
    return run


def _finding(name, kind, real, generated, p, *, passed=True, n=200):
    """One test entry of the findings audit's summary.json (plausible numbers)."""
    k_real, k_gen = int(round(real * n)), int(round(generated * n))
    return {"name": name, "kind": kind, "atoms": [name], "alternative": "two-sided",
            "real_count": k_real, "real_n": n, "real_prevalence": real,
            "real_ci_low": max(0.0, real - 0.06), "real_ci_high": min(1.0, real + 0.06),
            "generated_count": k_gen, "generated_n": n, "generated_prevalence": generated,
            "generated_ci_low": max(0.0, generated - 0.06),
            "generated_ci_high": min(1.0, generated + 0.06),
            "difference": generated - real, "difference_ci_low": generated - real - 0.08,
            "difference_ci_high": generated - real + 0.08, "odds_ratio": 1.0, "p_value": p,
            "p_adjusted": min(1.0, 5 * p), "significant": not passed, "beyond_margin": not passed,
            "passed": passed,
            "reason": "passed: within the margin" if passed else "failed: beyond the margin"}


def make_study(root: Path, detect: dict[int, float], *, fool: float = 0.45) -> Path:
    """A study folder whose analysis gives ``detect_p`` per epoch (``{epoch: p}``)."""
    study = root / "study"
    (study / "analysis").mkdir(parents=True)
    rows = [{"label": f"epoch-{e:04d}", "n_read": 40, "called_real": int(40 * fool),
             "fool_rate": fool, "fool_rate_ci_low": fool - 0.15, "fool_rate_ci_high": fool + 0.15,
             "detect_p": p} for e, p in sorted(detect.items())]
    pd.DataFrame(rows).to_csv(study / "analysis" / "checkpoints.csv", index=False)
    (study / "analysis" / "summary.json").write_text(json.dumps({
        "n_readers": 2, "n_cases": 80,
        "pooled": {"accuracy": 0.55, "accuracy_ci_low": 0.47, "accuracy_ci_high": 0.63,
                   "auc": 0.57, "auc_ci_low": 0.48, "auc_ci_high": 0.66},
        "fleiss_kappa": 0.11}))
    pd.DataFrame([{"reader": r, "n_read": 40, "accuracy": acc, "accuracy_ci_low": acc - 0.15,
                   "accuracy_ci_high": acc + 0.15, "binom_p": 0.3, "sensitivity": 0.5,
                   "specificity": 0.6, "auc": 0.58}
                  for r, acc in (("reader-a", 0.55), ("reader-b", 0.6), ("pooled", 0.575))]
                 ).to_csv(study / "analysis" / "readers.csv", index=False)
    return study
