"""Obuchowski–Rockette MRMC analysis against published output, sklearn and hand calculations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ganaudit.gan_models.errors import InputError
from ganaudit.reader_study.mrmc import (auc, delong_variance, imrmc_rows, jackknife_aucs, jackknife_covariance,
                               or_analysis, or_compare)
from ganaudit.reader_study.power import simulate_split_study

DATA = Path(__file__).parent / "data"


def _vandyke_both():
    """Van Dyke et al. (1993): (2 treatments, 5 readers, 114 cases) ratings and truth (see data/README.md)."""
    table = pd.read_csv(DATA / "vandyke1993.csv")
    scores = np.full((2, 5, 114), np.nan)
    scores[table["treatment"] - 1, table["reader"] - 1, table["case"] - 1] = table["rating"]
    truth = table.drop_duplicates("case").sort_values("case")["truth"].to_numpy()
    return scores, truth


def _vandyke():
    scores, truth = _vandyke_both()
    return scores[0], truth


def test_vandyke_treatment1_matches_or_dbm_mrmc_output():
    # Expected values: OR-DBM MRMC 2.51 output for treatment 1 alone (RJafroc
    # inst/IowaResults/VanDyke1T.txt); the same figures are part (c) of the two-treatment output.
    scores, truth = _vandyke()
    res = or_analysis(scores, truth)
    np.testing.assert_allclose(res.reader_aucs, [0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066], atol=5e-9)
    assert res.auc == pytest.approx(0.89703704, abs=5e-9)
    assert res.ms_r == pytest.approx(0.00308263, abs=5e-9)
    assert res.cov2 == pytest.approx(0.00048396, abs=5e-9)
    assert res.var_error == pytest.approx(0.00101410, abs=5e-9)
    # Random readers and cases: single-treatment CI with Hillis' ddf_H_single.
    assert res.se == pytest.approx(0.03317360, abs=5e-9)
    assert res.df == pytest.approx(12.74, abs=5e-3)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.82522360, 0.96885048), abs=5e-8)
    # Fixed readers, random cases.
    assert res.se_fixed == pytest.approx(0.02428971, abs=5e-9)
    assert (res.ci_low_fixed, res.ci_high_fixed) == pytest.approx((0.84943008, 0.94464399), abs=5e-8)
    np.testing.assert_allclose(np.diag(jackknife_covariance(scores, truth)),
                               [0.00090755, 0.00132316, 0.00079859, 0.00030064, 0.00174057], atol=5e-9)


def test_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 60)
    truth[:2] = [0, 1]
    scores = rng.integers(1, 7, 60) + truth  # ties on purpose
    assert auc(scores, truth) == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)


def test_jackknife_aucs_match_brute_force_leave_one_out():
    rng = np.random.default_rng(1)
    truth = np.r_[np.zeros(7, int), np.ones(6, int)]
    scores = rng.integers(1, 7, (3, 13)).astype(float)
    got = jackknife_aucs(scores, truth)
    for j in range(3):
        for k in range(13):
            keep = np.arange(13) != k
            assert got[j, k] == pytest.approx(roc_auc_score(truth[keep], scores[j, keep]), abs=1e-12)


def test_delong_variance_matches_structural_components_by_loops():
    rng = np.random.default_rng(2)
    truth = np.r_[np.zeros(9, int), np.ones(8, int)]
    scores = rng.normal(size=17) + truth
    pos, neg = scores[truth == 1], scores[truth == 0]

    def psi(x, y):
        return 1.0 if x > y else 0.5 if x == y else 0.0

    v10 = [sum(psi(x, y) for y in neg) / len(neg) for x in pos]
    v01 = [sum(psi(x, y) for x in pos) / len(pos) for y in neg]
    expected = np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg)
    assert delong_variance(scores, truth) == pytest.approx(expected, rel=1e-12)


def test_one_reader_hand_example_equals_jackknife_variance():
    # truth 0,0,1,1 with scores 1,2,2,3: AUC = (1 + 0.5 + 1 + 1)/4 = 0.875; leave-one-out AUCs
    # 0.75, 1, 1, 0.75 → jackknife variance (3/4)·4·0.125² = 0.046875.
    truth = np.array([0, 0, 1, 1])
    res = or_analysis(np.array([[1, 2, 2, 3]]), truth)
    assert res.auc == pytest.approx(0.875)
    assert res.var_error == pytest.approx(0.046875)
    assert res.se == pytest.approx(math.sqrt(0.046875))
    assert res.se == res.se_fixed
    assert "one reader" in res.method
    z = 1.959963984540054
    # 0.875 + 1.96·0.2165 = 1.299 overshoots: the interval is clipped to [0, 1].
    assert (res.ci_low, res.ci_high) == pytest.approx((0.875 - z * math.sqrt(0.046875), 1.0))
    assert (res.ci_low_fixed, res.ci_high_fixed) == (res.ci_low, res.ci_high)


def test_two_reader_hand_example():
    # Reader 1 as above (AUC 0.875, jackknife var 0.046875); reader 2 scores 1,1,2,3 is
    # perfect on every leave-one-out set (var 0, Cov2 0). MS(R) = 2·0.0625² = 0.0078125,
    # SE² = MS(R)/2, df_H = MS(R)²/(MS(R)²/1) = 1, t = (0.9375 − 0.5)/0.0625 = 7.
    truth = np.array([0, 0, 1, 1])
    res = or_analysis(np.array([[1, 2, 2, 3], [1, 1, 2, 3]]), truth)
    assert res.auc == pytest.approx(0.9375)
    assert res.ms_r == pytest.approx(0.0078125)
    assert res.cov2 == pytest.approx(0.0)
    assert res.var_error == pytest.approx(0.0234375)
    assert res.se == pytest.approx(0.0625)
    assert res.df == pytest.approx(1.0)
    assert res.t == pytest.approx(7.0)
    assert res.p_value == pytest.approx(2 * stats.t.sf(7.0, 1))
    half = stats.t.ppf(0.975, 1) * 0.0625
    assert (res.ci_low, res.ci_high) == pytest.approx((0.9375 - half, 1.0))  # 1.73 clipped to 1
    assert res.se_fixed == pytest.approx(math.sqrt(0.0234375 / 2))


def _simulated_readers(n_readers: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = np.r_[np.zeros(60, int), np.ones(60, int)]
    case_effect = rng.normal(size=120)
    skill = rng.normal(1.0, 0.3, n_readers)
    latent = case_effect[None] * 0.7 + truth[None] * skill[:, None] + rng.normal(size=(n_readers, 120))
    return np.digitize(latent, [-1, -0.3, 0.3, 1, 1.7]) + 1, truth


def test_interval_narrows_with_more_readers():
    few, truth = _simulated_readers(12, seed=4)
    narrow = or_analysis(few, truth)
    wide = or_analysis(few[:3], truth)
    assert narrow.ci_high - narrow.ci_low < wide.ci_high - wide.ci_low
    assert narrow.df > wide.df


def test_invariant_to_reader_and_case_order():
    scores, truth = _simulated_readers(4, seed=5)
    rng = np.random.default_rng(0)
    perm_c, perm_r = rng.permutation(120), rng.permutation(4)
    a = or_analysis(scores, truth)
    b = or_analysis(scores[perm_r][:, perm_c], truth[perm_c])
    for field in ("auc", "se", "df", "cov2", "var_error", "p_value"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-10)


def test_type_one_error_near_alpha_and_power_on_strong_signal():
    # Ratings independent of truth: H0 AUC = 0.5 holds, so about 5 % of studies reject it.
    rng = np.random.default_rng(6)
    truth = np.r_[np.zeros(30, int), np.ones(30, int)]
    p = np.array([or_analysis(rng.integers(1, 7, (4, 60)), truth).p_value for _ in range(300)])
    assert 0.01 <= np.mean(p < 0.05) <= 0.10
    strong, truth2 = _simulated_readers(5, seed=7)
    assert or_analysis(strong, truth2).p_value < 0.001


@pytest.mark.parametrize("scores, truth, match", [
    ([[1, 2, np.nan, 3]], [0, 0, 1, 1], "missing values"),
    ([[1, 2, 3, 4]], [1, 1, 1, 1], "at least one real and one fake"),
    ([[1, 2, 3, 4]], [0, 0, 1, 2], "0 \\(real\\) and 1 \\(fake\\)"),
    ([[1, 2, 3]], [0, 1, 0, 1], "3 cases but truth has 4"),
    ([[1, 2, 3]], [0, 0, 1], "at least 2 real and 2 fake"),
])
def test_bad_input(scores, truth, match):
    with pytest.raises(InputError, match=match):
        or_analysis(np.array(scores, dtype=float), np.array(truth))


def test_imrmc_rows_format():
    rows = imrmc_rows(np.array([[1, 6], [2, np.nan]]), np.array([0, 1]), reader_ids=[7, 8], case_ids=[1, 2])
    assert rows[:2] == [(-1, 1, 0, 0), (-1, 2, 0, 1)]
    assert rows[2:] == [(7, 1, "1", 1.0), (7, 2, "1", 6.0), (8, 1, "1", 2.0)]


# --- comparing conditions -------------------------------------------------------------------------
def test_vandyke_two_treatments_match_published_or_analysis():
    # OR-DBM MRMC 2.51, trapezoidal AUC, jackknife covariances, random readers and cases, for
    # the two treatments of Van Dyke et al. (1993) (RJafroc inst/IowaResults/VanDyke.txt):
    # F = 4.46 on (1, 15.26) df, p = 0.0517; difference −0.04380, SE 0.02075, 95 % CI
    # (−0.08796, 0.00036); Var(R) 0.00153500, Var(T*R) 0.00020040.
    scores, truth = _vandyke_both()
    res = or_compare(scores, truth)
    np.testing.assert_allclose(res.auc, [[0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066],
                                         [0.94782609, 0.90531401, 0.92173913, 0.99935588, 0.92995169]], atol=5e-9)
    np.testing.assert_allclose(res.auc_mean, [0.89703704, 0.94083736], atol=5e-9)
    assert res.difference == pytest.approx(-0.04380032, abs=5e-9)
    assert (res.ms_t, res.ms_r, res.ms_tr) == pytest.approx((0.00479617, 0.00383620, 0.00055103), abs=5e-9)
    assert (res.var_error, res.cov1, res.cov2, res.cov3) == pytest.approx(
        (0.00080229, 0.00034661, 0.00034407, 0.00023903), abs=5e-9)
    assert (res.var_r, res.var_tr) == pytest.approx((0.00153500, 0.00020040), abs=5e-9)
    assert round(res.f, 2) == 4.46 and round(res.ddf, 2) == 15.26 and round(res.p_value, 4) == 0.0517
    assert (res.df1, res.p_pair) == (1, pytest.approx(res.p_value, rel=1e-12))
    assert round(res.se, 5) == 0.02075 and round(res.t_stat, 2) == -2.11
    assert (round(res.ci_low, 5), round(res.ci_high, 5)) == (-0.08796, 0.00036)
    # Part (c): single-treatment intervals with ddf_H_single.
    np.testing.assert_allclose(res.auc_ci_low, [0.82522360, 0.89413783], atol=5e-9)
    np.testing.assert_allclose(res.auc_ci_high, [0.96885048, 0.98753689], atol=5e-9)
    table = res.table()
    assert list(table[["condition_a", "condition_b"]].iloc[0]) == ["0", "1"]
    assert table["df"].iloc[0] == pytest.approx(res.ddf)


def _delong_covariance_by_loops(scores, truth):
    """DeLong et al. (1988) structural-component covariance of every (condition, reader) AUC, written out.

    Each AUC uses its own positives and negatives; two AUCs covary through the cases they
    share: Σ over shared positives (V10_a − A_a)(V10_b − A_b)/(m_a m_b) · m/(m − 1) … written
    here for cases that are shared by both or by neither, with m = the shared count.
    """
    t, r, c = scores.shape
    idx = [(i, j) for i in range(t) for j in range(r)]
    comps = {}
    for i, j in idx:
        keep = np.isfinite(scores[i, j])
        pos, neg = np.flatnonzero(keep & (truth == 1)), np.flatnonzero(keep & (truth == 0))
        a = roc_auc_score(truth[keep], scores[i, j, keep])
        v10 = {k: np.mean([1.0 if scores[i, j, k] > scores[i, j, q] else 0.5 if scores[i, j, k] == scores[i, j, q]
                           else 0.0 for q in neg]) for k in pos}
        v01 = {q: np.mean([1.0 if scores[i, j, k] > scores[i, j, q] else 0.5 if scores[i, j, k] == scores[i, j, q]
                           else 0.0 for k in pos]) for q in neg}
        comps[i, j] = (a, v10, v01)
    cov = np.zeros((t * r, t * r))
    for x, ka in enumerate(idx):
        for y, kb in enumerate(idx):
            a1, p1, n1 = comps[ka]
            a2, p2, n2 = comps[kb]
            total = 0.0
            for first, second, area1, area2 in ((p1, p2, a1, a2), (n1, n2, a1, a2)):
                shared = sorted(set(first) & set(second))
                if len(shared) >= 2:
                    assert len(shared) == len(first) == len(second)  # shared by both or by neither
                    s = sum((first[k] - area1) * (second[k] - area2) for k in shared) / (len(shared) - 1)
                    total += s / len(shared)
            cov[x, y] = total
    return cov


@pytest.mark.parametrize("split", [False, True], ids=["fully-crossed", "split"])
def test_delong_covariance_matches_structural_components_by_loops(split):
    from ganaudit.reader_study.mrmc import _leave_one_out, _membership, case_covariance

    rng = np.random.default_rng(8)
    if split:
        scores, truth = simulate_split_study(rng, readers=3, n_real=9, n_fake=6, shifts=(0.4, 0.9))
    else:
        truth = np.r_[np.zeros(9, int), np.ones(7, int)]
        scores = rng.integers(1, 7, (2, 3, 16)).astype(float) + truth
    member = _membership(scores)
    _, loo = _leave_one_out(scores, truth.astype(bool), member)
    got = case_covariance(loo, truth.astype(bool), member, method="delong")["total"]
    np.testing.assert_allclose(got, _delong_covariance_by_loops(scores, truth), atol=1e-12)
    if not split:
        # One condition, one reader: the familiar DeLong variance.
        assert got[0, 0] == pytest.approx(delong_variance(scores[0, 0], truth), rel=1e-12)


def test_split_design_jackknife_by_brute_force_leave_one_out():
    # Leave each case out of the *whole study*, recompute every AUC with sklearn on the cases
    # of its condition, and form the jackknife covariance by hand: or_compare must agree.
    rng = np.random.default_rng(9)
    scores, truth = simulate_split_study(rng, readers=3, n_real=8, n_fake=5, shifts=(0.3, 1.0, 0.6))
    t, r, c = scores.shape
    theta = np.empty((c, t * r))
    for k in range(c):
        keep = np.arange(c) != k
        for i in range(t):
            cols = keep & np.isfinite(scores[i, 0])
            for j in range(r):
                theta[k, i * r + j] = roc_auc_score(truth[cols], scores[i, j, cols])
    dev = theta - theta.mean(axis=0)
    cov = (c - 1) / c * dev.T @ dev
    res = or_compare(scores, truth)
    cond, reader = np.repeat(np.arange(t), r), np.tile(np.arange(r), t)
    same_c, same_r = cond[:, None] == cond[None], reader[:, None] == reader[None]
    assert res.var_error == pytest.approx(cov[same_c & same_r].mean(), rel=1e-10)
    assert res.cov1 == pytest.approx(cov[~same_c & same_r].mean(), rel=1e-10)
    assert res.cov2 == pytest.approx(cov[same_c & ~same_r].mean(), rel=1e-10)
    assert res.cov3 == pytest.approx(cov[~same_c & ~same_r].mean(), rel=1e-10)
    # Other conditions' fakes do not move an AUC: Cov1 and Cov3 come from the real cases only.
    assert res.parts["fake"]["cov1"] == pytest.approx(0.0, abs=1e-15) and res.parts["fake"]["cov3"] == pytest.approx(0.0, abs=1e-15)
    assert res.parts["fake"]["cov2"] > 1e-4
    assert res.parts["real"]["cov1"] + res.parts["fake"]["cov1"] == pytest.approx(res.cov1)
    for i in range(t):
        for j in range(r):
            cols = np.isfinite(scores[i, j])
            assert res.auc[i, j] == pytest.approx(roc_auc_score(truth[cols], scores[i, j, cols]), abs=1e-12)


def test_three_conditions_anova_matches_statsmodels_and_pairs_follow_the_formula():
    import statsmodels.api as sm
    from statsmodels.formula.api import ols

    rng = np.random.default_rng(10)
    scores, truth = simulate_split_study(rng, readers=4, n_real=20, n_fake=10, shifts=(0.2, 0.8, 1.4),
                                         sd_reader_condition=0.2)
    res = or_compare(scores, truth, conditions=["a", "b", "c"])
    frame = pd.DataFrame([{"cond": str(i), "reader": str(j), "auc": res.auc[i, j]} for i in range(3) for j in range(4)])
    anova = sm.stats.anova_lm(ols("auc ~ C(cond) + C(reader)", frame).fit())
    assert res.ms_t == pytest.approx(anova.loc["C(cond)", "mean_sq"], rel=1e-9)
    assert res.ms_r == pytest.approx(anova.loc["C(reader)", "mean_sq"], rel=1e-9)
    assert res.ms_tr == pytest.approx(anova.loc["Residual", "mean_sq"], rel=1e-9)
    den = res.ms_tr + 4 * max(res.cov2 - res.cov3, 0)
    assert res.f == pytest.approx(res.ms_t / den) and res.df1 == 2
    assert res.ddf == pytest.approx(den**2 / (res.ms_tr**2 / 6))
    assert res.p_value == pytest.approx(stats.f.sf(res.f, 2, res.ddf))
    assert res.pairs == [(0, 1), (0, 2), (1, 2)]
    means = res.auc.mean(axis=1)
    np.testing.assert_allclose(res.difference, [means[0] - means[1], means[0] - means[2], means[1] - means[2]])
    se = math.sqrt(2 / 4 * den)
    np.testing.assert_allclose(res.p_pair, 2 * stats.t.sf(np.abs(res.difference) / se, res.ddf))
    half = stats.t.ppf(0.975, res.ddf) * se
    np.testing.assert_allclose(res.ci_low, res.difference - half)
    assert list(res.table()["condition_a"]) == ["a", "a", "b"]


def test_compare_is_invariant_to_reader_and_case_order_and_antisymmetric():
    rng = np.random.default_rng(11)
    scores, truth = simulate_split_study(rng, readers=4, n_real=15, n_fake=8, shifts=(0.3, 0.9))
    a = or_compare(scores, truth)
    pc, pr = rng.permutation(truth.size), rng.permutation(4)
    b = or_compare(scores[:, pr][:, :, pc], truth[pc])
    swapped = or_compare(scores[::-1], truth)
    for name in ("f", "ddf", "p_value", "var_error", "cov1", "cov2", "cov3", "se"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-10)
        assert getattr(a, name) == pytest.approx(getattr(swapped, name), rel=1e-10)
    assert swapped.difference == pytest.approx(-a.difference)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-a.ci_high, -a.ci_low))


def test_identical_conditions_give_no_difference():
    scores, truth = _vandyke_both()
    same = np.stack([scores[0], scores[0]])
    res = or_compare(same, truth)
    assert res.difference == 0.0 and res.f == 0.0 and res.p_value == pytest.approx(1.0)


def test_aucs_and_intervals_stay_in_unit_range():
    # Near-perfect readers in one condition: symmetric intervals would pass 1.
    rng = np.random.default_rng(12)
    scores, truth = simulate_split_study(rng, readers=3, n_real=6, n_fake=3, shifts=(6.0, 0.0), sd_reader=0.0)
    res = or_compare(scores, truth)
    assert np.all((0 <= res.auc) & (res.auc <= 1))
    assert np.all((0 <= res.auc_ci_low) & (res.auc_ci_low <= res.auc_mean) & (res.auc_mean <= res.auc_ci_high)
                  & (res.auc_ci_high <= 1))
    assert -1 <= res.ci_low <= res.difference <= res.ci_high <= 1
    single = or_analysis(np.array([[1, 2, 3, 4, 5, 6], [1, 2, 3, 5, 4, 6]]), np.array([0, 0, 0, 1, 1, 1]))
    assert 0 <= single.ci_low <= single.auc <= single.ci_high <= 1
    assert 0 <= single.ci_low_fixed <= single.ci_high_fixed <= 1


@pytest.mark.parametrize("covariance", ["jackknife", "delong"])
def test_split_design_null_rejection_rate_near_alpha(covariance):
    # Identical checkpoints (same fake distribution), split design: about 5 % of studies
    # reject. bench/mrmc_validation.py runs >= 1000 studies per design (figures in the docs).
    rng = np.random.default_rng(13)
    p = [or_compare(*simulate_split_study(rng, readers=5, n_real=30, n_fake=15), covariance=covariance).p_value
         for _ in range(300)]
    assert 0.02 <= np.mean(np.array(p) < 0.05) <= 0.09


def test_split_design_detects_a_real_difference():
    rng = np.random.default_rng(14)
    p = [or_compare(*simulate_split_study(rng, readers=5, n_real=60, n_fake=30, shifts=(0.2, 1.2))).p_value
         for _ in range(20)]
    assert np.mean(np.array(p) < 0.05) >= 0.9


@pytest.mark.parametrize("scores, truth, match", [
    (np.ones((2, 2, 4)), [0, 0, 1], "4 cases but truth has 3"),
    (np.ones((2, 4)), [0, 0, 1, 1], "shape \\(conditions, readers, cases\\)"),
    (np.ones((1, 2, 4)), [0, 0, 1, 1], "at least 2, got 1; for one condition use or_analysis"),
    (np.array([[[1, 2, 3, 4, 5], [1, 2, np.nan, 4, 5]]] * 2), [0, 0, 1, 1, 1], "no score from reader\\(s\\) \\[1\\]"),
    (np.array([[[1, 2, 3, 4, np.nan]] * 2] * 2), [0, 0, 1, 1, 1], "case 4 belongs to no condition"),
    (np.array([[[1, 2, 3, 4, np.nan]] * 2, [[1, 2, np.nan, np.nan, 5]] * 2]), [0, 0, 1, 1, 1],
     "condition 1 has 2 real and 1 fake"),
])
def test_compare_bad_input(scores, truth, match):
    with pytest.raises(InputError, match=match):
        or_compare(scores, np.array(truth))


def test_compare_unknown_covariance_method():
    scores, truth = _vandyke_both()
    with pytest.raises(InputError, match="covariance must be one of jackknife, delong"):
        or_compare(scores, truth, covariance="bootstrap")
