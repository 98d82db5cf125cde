"""Normative biometry curves (fetalseg.norms) against the shared table and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fetalseg import norms


def test_packaged_table_matches_shared_file(biometry_norms_tsv):
    shared = norms.load_norms(biometry_norms_tsv)
    packaged = norms.load_norms()
    assert set(shared) == set(packaged) == set(norms.MEASURES)
    for m in norms.MEASURES:
        assert shared[m] == packaged[m]


def test_packaged_file_keeps_source_comment():
    from importlib import resources

    text = resources.files("fetalseg").joinpath("data", norms.NORMS_FILE).read_text(encoding="utf-8")
    assert text.startswith("#") and "SD(GA)" in text


@pytest.mark.parametrize("measure", norms.MEASURES)
def test_mean_and_sd_follow_the_formula(measure):
    n = norms.load_norms()[measure]
    for ga in (19.0, 27.5, 40.0):
        assert norms.norm_mean(measure, ga) == pytest.approx(n.a * ga * ga + n.b * ga + n.c)
        assert norms.norm_sd(measure, ga) == pytest.approx(n.a5 * ga + n.b5)


def test_known_values_at_27_weeks():
    # by hand from the table: bBIP = 0.016*27^2 + 1.763*27 - 0.9597
    assert norms.norm_mean("bBIP", 27) == pytest.approx(0.016 * 729 + 1.763 * 27 - 0.9597)
    assert norms.norm_sd("TCD", 27) == pytest.approx(0.0343 * 27 + 0.415)


def test_zscore_and_centile_are_consistent():
    ga = 30.0
    mean, sd = norms.norm_mean("HV", ga), norms.norm_sd("HV", ga)
    assert norms.zscore("HV", mean, ga) == pytest.approx(0.0)
    assert norms.zscore("HV", mean + 2 * sd, ga) == pytest.approx(2.0)
    assert norms.centile("HV", mean, ga) == pytest.approx(50.0)
    # 1.645 SD is the 95th centile
    assert norms.centile("HV", mean + 1.645 * sd, ga) == pytest.approx(95.0, abs=0.01)
    assert norms.centile("HV", mean - 1.645 * sd, ga) == pytest.approx(5.0, abs=0.01)


def test_vectorised_over_ga_and_values():
    ga = np.array([22.0, 30.0, 36.0])
    means = norms.norm_mean("LCC", ga)
    assert means.shape == (3,)
    z = norms.zscore("LCC", means, ga)
    np.testing.assert_allclose(z, 0.0, atol=1e-12)
    c = norms.centile("LCC", means + norms.norm_sd("LCC", ga), ga)
    np.testing.assert_allclose(c, 100 * 0.5 * (1 + math.erf(1 / math.sqrt(2))), rtol=1e-9)


def test_unknown_measure_is_rejected():
    with pytest.raises(ValueError, match="unknown biometry measure"):
        norms.norm_mean("OFD", 30)
