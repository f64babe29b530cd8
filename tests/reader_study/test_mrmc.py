"""Obuchowski–Rockette MRMC analysis against published output, sklearn and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from gan_models.errors import InputError
from reader_study.mrmc import (auc, delong_variance, imrmc_rows, jackknife_aucs, jackknife_covariance,
                               or_analysis)

# Van Dyke et al. (1993) cine MRI vs spin-echo MRI for aortic dissection: treatment 1 ratings
# (1-5) of 5 readers on 69 normal then 45 abnormal cases, as distributed with RJafroc
# (inst/MRMCRuns/VD/VD.lrc, first rating column). Expected values: OR-DBM MRMC 2.51 output
# for this treatment alone (RJafroc inst/IowaResults/VanDyke1T.txt).
_VD_T1 = [
    ("1221511111" "1141111111" "1131311214" "1111131212" "1123313113" "3111111221" "111332111",
     "5555455545" "5543424555" "5555154454" "5535551155" "54451"),
    ("2322222223" "2252223222" "2222422223" "2222222222" "2222222222" "2222222432" "232222222",
     "5355555425" "5544222555" "5555243354" "5524252255" "55352"),
    ("2222351122" "4242223222" "1232411322" "1122241214" "1211222222" "3211211221" "151421212",
     "5455555555" "5554235555" "5555252255" "5525552255" "55552"),
    ("1111113111" "1111111111" "2111211112" "1111111111" "1111111133" "1111111111" "111311111",
     "5555555555" "5555515555" "5555554544" "5535551255" "55555"),
    ("3512111122" "2121112211" "3221111211" "2112312211" "1333211121" "1111111341" "231212113",
     "5252555515" "4545223555" "5554144322" "1515151155" "53552"),
]


def _vandyke():
    scores = np.array([[int(ch) for ch in normal + abnormal] for normal, abnormal in _VD_T1], dtype=float)
    truth = np.r_[np.zeros(69, int), np.ones(45, int)]
    return scores, truth


def test_vandyke_treatment1_matches_or_dbm_mrmc_output():
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
    assert (res.ci_low, res.ci_high) == pytest.approx((0.875 - z * math.sqrt(0.046875), 0.875 + z * math.sqrt(0.046875)))


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
    assert (res.ci_low, res.ci_high) == pytest.approx((0.9375 - half, 0.9375 + half))
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
