"""Hallucinated / suppressed findings audit: does the GAN change what a radiologist would see?

A detector (``evaluation.detectors``) reads every real and generated image. For each finding
the audit compares its prevalence in real vs generated images (Wilson 95 % intervals,
Fisher's exact test; a small p means the generator invents or suppresses that finding), lists
co-occurrences, and flags *impossible* generated images: those showing a value or a pair of
values of the finding/location columns never seen among (at least ``min_real``) real images —
e.g. a lesion in the right hemisphere when the population only has left-sided ones.

Direction: fewer impossible images is better (0 is the goal); larger p-values mean no
detectable shift (``significant`` is True when the smallest p is below α / number of tests,
Bonferroni).
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.detectors import Detector
from evaluation.memorization import wilson_interval
from evaluation.nn_search import check_images
from gan_models.errors import InputError

DEFAULT_MIN_REAL = 200


@dataclass
class FindingsResult:
    """Outcome of ``findings_audit``.

    Attributes
    ----------
    table : one row per generated image: ``file``, the detector's columns, ``impossible``
        (bool) and ``impossible_reason``.
    summary : prevalences, p-values, co-occurrences, impossible combinations, ``impossible``
        (count, None when fewer than ``min_real`` real images), ``min_p``, ``significant``.
    real_table : the detector's (or the given labels') columns for the real images.
    """

    table: pd.DataFrame
    summary: dict
    real_table: pd.DataFrame


def _atoms(frame: pd.DataFrame, columns: list[str]) -> list[list[str]]:
    """Per row, the ``column=value`` strings of the checked columns."""
    values = {c: frame[c].fillna("").astype(str).replace("", "none").to_numpy() for c in columns}
    return [[f"{c}={values[c][i]}" for c in columns] for i in range(len(frame))]


def _combos(atoms: list[str], max_order: int) -> list[tuple[str, ...]]:
    out = []
    for order in range(1, max_order + 1):
        out.extend(itertools.combinations(atoms, order))
    return out


def findings_audit(real, generated, detector, *, real_labels: pd.DataFrame | None = None,
                   min_real: int = DEFAULT_MIN_REAL, generated_names=None, alpha: float = 0.05,
                   max_order: int = 2) -> FindingsResult:
    """Compare findings in real and generated images.

    Parameters
    ----------
    real, generated : (N, S, S) images in [-1, 1].
    detector : a ``Detector`` or any callable images → DataFrame of 0/1 finding columns
        (text columns are location categories).
    real_labels : optional true labels of the real images to use instead of running the
        detector on them (then detector errors on generated images are not mirrored on the
        real side: prefer the detector on both unless it is known to be accurate).
    min_real : impossible combinations are only judged with at least this many real images.
    generated_names : names for the table (default ``generated-00000`` …).
    alpha : family-wise error rate (Bonferroni over the Fisher tests) and 1 − CI level.
    max_order : largest number of columns combined in the impossible check (1: single values,
        2: pairs such as ``lesion=1, lesion_side=right``).

    Returns
    -------
    FindingsResult

    References
    ----------
    R. A. Fisher, "On the interpretation of χ² from contingency tables, and the calculation of
    P", J. R. Stat. Soc. 85 (1922) 87–94 (exact test via ``scipy.stats.fisher_exact``).
    """
    from scipy.stats import fisher_exact

    real = check_images(real, "real images")
    generated = check_images(generated, "generated images")
    if real.shape[1:] != generated.shape[1:]:
        raise InputError(f"image sizes differ: real {real.shape[1]}² vs generated {generated.shape[1]}²; "
                         "resize both to one size (e.g. --size S)")
    if not callable(detector):
        raise InputError(f"detector must be callable (images -> DataFrame), got {type(detector).__name__}")
    if not isinstance(detector, Detector):
        detector = Detector(getattr(detector, "__name__", "detector"), detector)
    if int(min_real) < 1:
        raise InputError(f"min_real must be a positive number of images, got {min_real!r}")
    gen_table = detector(generated)
    findings, categories = list(detector.findings), list(detector.categories)
    if real_labels is not None:
        real_table = pd.DataFrame(real_labels).reset_index(drop=True)
        if len(real_table) != len(real):
            raise InputError(f"real_labels has {len(real_table)} rows for {len(real)} real images")
        missing = [c for c in findings + categories if c not in real_table.columns]
        if missing:
            raise InputError(f"real_labels lacks the detector's columns {missing}")
        real_table = real_table[findings + categories + [c for c in real_table.columns
                                                         if c not in findings + categories]].copy()
        for f in findings:
            values = pd.to_numeric(real_table[f], errors="coerce")
            if values.isna().any() or not set(values.unique()) <= {0, 1}:
                raise InputError(f"real_labels column {f!r} must hold only 0/1")
            real_table[f] = values.astype(int)  # 1.0 and 1 must match in the combination check
        for c in categories:
            real_table[c] = real_table[c].fillna("").astype(str)
    else:
        real_table = detector(real)
    if generated_names is None:
        generated_names = [f"generated-{i:05d}" for i in range(len(generated))]
    elif len(generated_names) != len(generated):
        raise InputError(f"generated_names: {len(generated_names)} names for {len(generated)} images")

    n_real, n_gen = len(real), len(generated)
    per_finding, p_values = {}, []
    for f in findings:
        r1 = int(real_table[f].astype(int).sum())
        g1 = int(gen_table[f].astype(int).sum())
        odds, p = fisher_exact([[g1, n_gen - g1], [r1, n_real - r1]], alternative="two-sided")
        r_low, r_high = wilson_interval(r1, n_real, alpha=alpha)
        g_low, g_high = wilson_interval(g1, n_gen, alpha=alpha)
        per_finding[f] = {"real_count": r1, "real_prevalence": r1 / n_real, "real_ci_low": r_low,
                          "real_ci_high": r_high, "generated_count": g1,
                          "generated_prevalence": g1 / n_gen, "generated_ci_low": g_low,
                          "generated_ci_high": g_high, "odds_ratio": float(odds), "p_value": float(p)}
        p_values.append(float(p))
    # Location categories: each value's share among all images, with its own Fisher test.
    per_category = {}
    for c in categories:
        values = sorted(set(real_table[c].astype(str)) | set(gen_table[c].astype(str)))
        per_category[c] = {}
        for v in values:
            if v == "":
                continue
            r1 = int((real_table[c].astype(str) == v).sum())
            g1 = int((gen_table[c].astype(str) == v).sum())
            odds, p = fisher_exact([[g1, n_gen - g1], [r1, n_real - r1]], alternative="two-sided")
            per_category[c][v] = {"real_count": r1, "generated_count": g1,
                                  "real_prevalence": r1 / n_real, "generated_prevalence": g1 / n_gen,
                                  "p_value": float(p)}
            p_values.append(float(p))

    cooccurrence = {"real": {}, "generated": {}}
    for a, b in itertools.combinations(findings, 2):
        key = f"{a}&{b}"
        cooccurrence["real"][key] = int(((real_table[a] == 1) & (real_table[b] == 1)).sum())
        cooccurrence["generated"][key] = int(((gen_table[a] == 1) & (gen_table[b] == 1)).sum())

    checked = findings + categories
    judged = n_real >= int(min_real)
    real_seen = set()
    for atoms in _atoms(real_table, checked):
        real_seen.update(_combos(atoms, max_order))
    reasons, unseen_counts = [], {}
    for atoms in _atoms(gen_table, checked):
        unseen = [combo for combo in _combos(atoms, max_order) if combo not in real_seen]
        # Report the smallest unseen combinations only (a pair containing an unseen single
        # value adds nothing).
        minimal = [u for u in unseen if not any(set(v) < set(u) for v in unseen)]
        for u in minimal:
            unseen_counts[", ".join(u)] = unseen_counts.get(", ".join(u), 0) + 1
        reasons.append("; ".join(", ".join(u) for u in minimal))
    impossible = np.array([bool(r) for r in reasons]) if judged else np.zeros(n_gen, bool)

    table = pd.concat([pd.DataFrame({"file": list(map(str, generated_names))}), gen_table], axis=1)
    table["impossible"] = impossible
    table["impossible_reason"] = reasons if judged else [""] * n_gen

    n_tests = len(p_values)
    min_p = float(min(p_values)) if p_values else math.nan
    summary = {
        "detector": getattr(detector, "name", "detector"),
        "n_real": n_real,
        "n_generated": n_gen,
        "real_source": "labels" if real_labels is not None else "detector",
        "findings": per_finding,
        "categories": per_category,
        "cooccurrence": cooccurrence,
        "impossible_checked": judged,
        "min_real": int(min_real),
        "impossible_combinations": ([{"combination": k, "n_generated": v}
                                     for k, v in sorted(unseen_counts.items(), key=lambda kv: -kv[1])]
                                    if judged else []),
        "impossible": int(impossible.sum()) if judged else None,
        "impossible_rate": float(impossible.mean()) if judged else None,
        "n_tests": n_tests,
        "min_p": min_p,
        "bonferroni_alpha": alpha / n_tests if n_tests else math.nan,
        "significant": bool(n_tests and min_p < alpha / n_tests),
    }
    return FindingsResult(table, summary, real_table)


def _gallery_png(result: FindingsResult, generated: np.ndarray, *, n_images: int = 16) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table
    flagged = np.nonzero(table["impossible"].to_numpy())[0]
    findings = list(result.summary["findings"])
    if len(flagged) == 0:
        has_any = table[findings].to_numpy().sum(axis=1) > 0 if findings else np.zeros(len(table), bool)
        flagged = np.nonzero(has_any)[0]
        title = "No impossible images; examples with findings"
    else:
        title = f"Impossible generated images ({len(flagged)}; first {min(n_images, len(flagged))})"
    shown = flagged[:n_images]
    cols = 4
    rows = max(1, math.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.1), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, i in enumerate(shown):
        ax = axes[k // cols, k % cols]
        ax.imshow(generated[i], cmap="gray", vmin=-1, vmax=1)
        row = table.iloc[i]
        label = row["impossible_reason"] or ", ".join(f for f in findings if row[f] == 1)
        ax.set_title(f"{row['file']}\n{label}"[:60], fontsize=6,
                     color="red" if row["impossible"] else "black")
        if "lesion_x" in table.columns and np.isfinite(row.get("lesion_x", np.nan)):
            ax.plot(row["lesion_x"], row["lesion_y"], marker="o", mfc="none", mec="red", ms=9)
    if len(shown) == 0:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_findings(result: FindingsResult, out_dir, generated) -> Path:
    """Write ``findings.csv``, ``summary.json`` and ``gallery.png`` into ``out_dir`` (each
    atomically)."""
    from gan_models.atomic import write_bytes, write_csv, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generated = check_images(generated, "generated images")
    write_csv(out / "findings.csv", result.table)
    write_json(out / "summary.json", _finite(result.summary))
    write_bytes(out / "gallery.png", _gallery_png(result, generated))
    return out


def _finite(obj):
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
