"""fetalseg.phantom: API, biometry truth, pathologies, volumes, contrast, determinism.

Oracles are independent of the phantom code: the FeTA label table, the normative curves, and
brute-force measurements on the voxel label maps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fetalseg import norms
from fetalseg.labels import GENERATION, to_feta
from fetalseg.phantom import PATHOLOGIES, SITES, make_subject, quality_score

FETA_MEDIANS_CM3 = {1: 60.8, 2: 29.1, 3: 61.5, 4: 8.0, 5: 3.8, 6: 7.9, 7: 3.25}


@pytest.fixture(scope="module")
def normal27():
    return make_subject(27.0, "normal", voxel=0.8, seed=0)


def test_subject_api(normal27):
    s = normal27
    for img in (s.generation, s.labels, s.image):
        assert img.shape == s.generation.shape
        np.testing.assert_array_equal(img.affine, s.generation.affine)
    assert s.generation.data.dtype == np.uint8 and s.labels.data.dtype == np.uint8
    assert s.image.data.dtype == np.float32 and np.isfinite(s.image.data).all()
    assert set(np.unique(s.generation.data)) <= set(GENERATION.values)
    assert set(np.unique(s.generation.data)) >= set(range(1, 13))  # every tissue is drawn
    np.testing.assert_array_equal(s.labels.data, to_feta(s.generation.data, "generation"))
    np.testing.assert_allclose(s.generation.spacing, 0.8)
    assert set(s.biometry) >= {"LCC", "HV", "bBIP", "sBIP", "TCD", "atrial_width"}
    # landmark coordinates are rounded to 0.001 mm, so each end moves up to sqrt(3) * 0.0005 mm
    rounding = 2 * math.sqrt(3) * 0.0005
    for k, (a, b) in s.landmarks.items():
        assert math.dist(a, b) == pytest.approx(s.biometry[k], abs=rounding * 1.01)
    p = s.params
    assert p["ga"] == 27.0 and p["pathology"] == "normal" and p["seed"] == 0
    assert 0.0 <= p["quality"] <= 4.0
    assert {"noise", "slice_mm", "psf_mm", "bias", "motion"} <= set(p["acquisition"])


def _world_to_index(img, pt):
    return np.rint(np.linalg.solve(img.affine, np.r_[pt, 1.0])[:3]).astype(int)


def _run_extent(mask_1d, spacing):
    idx = np.flatnonzero(mask_1d)
    return 0.0 if idx.size == 0 else (idx[-1] - idx[0] + 1) * spacing


def _check_biometry_against_labels(s, v):
    """Extents measured by brute force on the voxel labels match the truth within 1.5 voxels."""
    gen, feta = s.generation.data, s.labels.data
    tol = 1.5 * v
    # bBIP: brain tissues in the axial slice of the landmarks, widest row along x
    k = _world_to_index(s.generation, s.landmarks["bBIP"][0])[2]
    brain = np.isin(feta[:, :, k], (2, 3, 4, 6))
    widest = max(_run_extent(brain[:, j], v) for j in range(brain.shape[1]))
    assert widest == pytest.approx(s.biometry["bBIP"], abs=tol)
    # sBIP: intracranial space (FeTA 1-7) in the same slice
    ic = feta[:, :, k] > 0
    assert max(_run_extent(ic[:, j], v) for j in range(ic.shape[1])) == pytest.approx(s.biometry["sBIP"], abs=tol)
    # TCD: cerebellum in the coronal slice of its landmarks
    j = _world_to_index(s.generation, s.landmarks["TCD"][0])[1]
    cb = feta[:, j, :] == 5
    assert max(_run_extent(cb[:, kk], v) for kk in range(cb.shape[1])) == pytest.approx(s.biometry["TCD"], abs=tol)
    # HV and LCC: midsagittal slice
    i = _world_to_index(s.generation, s.landmarks["HV"][0])[0]
    verm = feta[i, :, :] == 5
    assert max(_run_extent(verm[jj, :], v) for jj in range(verm.shape[0])) == pytest.approx(s.biometry["HV"], abs=tol)
    if "LCC" not in s.landmarks:  # agenesis of the corpus callosum: no callosum voxel at all
        assert math.isnan(s.biometry["LCC"]) and not np.any(gen == 8)
        return
    cc = gen[_world_to_index(s.generation, s.landmarks["LCC"][0])[0], :, :] == 8
    assert max(_run_extent(cc[:, kk], v) for kk in range(cc.shape[1])) == pytest.approx(s.biometry["LCC"], abs=tol)


def test_biometry_truth_agrees_with_the_label_map(normal27):
    _check_biometry_against_labels(normal27, 0.8)


@pytest.mark.parametrize("ga, pathology, seed, voxel", [(21.0, "vm", 1, 1.0), (24.5, "micro", 2, 0.8),
                                                        (31.0, "acc", 3, 1.0), (35.5, "sb", 4, 0.8),
                                                        (38.0, "normal", 5, 1.0)])
def test_biometry_truth_agrees_with_the_label_map_across_ga_and_pathology(ga, pathology, seed, voxel):
    _check_biometry_against_labels(make_subject(ga, pathology, voxel=voxel, seed=seed), voxel)


@pytest.mark.parametrize("ga", [20.0, 24.5, 29.0, 33.5, 38.0])
def test_normal_biometry_within_two_sd_of_the_norms(ga):
    for seed in (1, 2):
        s = make_subject(ga, "normal", voxel=1.2, seed=seed)
        for m in norms.MEASURES:
            z = norms.zscore(m, s.biometry[m], ga)
            assert abs(z) <= 2.0, f"{m} at {ga} w seed {seed}: {s.biometry[m]:.1f} mm, z = {z:.2f}"


def test_normal_volumes_at_27_weeks_near_feta_medians(normal27):
    others = ((seed, make_subject(27.0, "normal", voxel=0.8, seed=seed)) for seed in (1, 2, 3, 4))
    for seed, s in ((0, normal27), *others):
        vol = np.bincount(s.labels.data.ravel(), minlength=8) * s.labels.voxel_volume / 1000.0
        for label, median in FETA_MEDIANS_CM3.items():
            assert median / 1.5 <= vol[label] <= median * 1.5, \
                f"seed {seed} label {label}: {vol[label]:.2f} cm3 vs FeTA median {median}"


def _ventricle_share(s) -> float:
    """Ventricles (FeTA 4) as a fraction of the brain's tissue (FeTA 2-7), voxel counts."""
    n = np.bincount(s.labels.data.ravel(), minlength=8)
    return float(n[4] / n[2:8].sum())


def test_ventricle_share_falls_with_age_and_spina_bifida_dilates_it():
    """Normal lateral ventricles grow about 3 % a week while the brain grows 10-15 % (Ma et al. 2019): their share of
    the brain falls from mid to late gestation; the Chiari II phantom's are dilated to several times that share
    (the shared spina bifida atlases: 15-23 % of the brain)."""
    young, old = (make_subject(ga, "normal", voxel=1.0, seed=3) for ga in (22.0, 34.0))
    assert _ventricle_share(young) > 1.25 * _ventricle_share(old)
    sb = make_subject(26.0, "sb", voxel=1.0, seed=3)
    normal = make_subject(26.0, "normal", voxel=1.0, seed=3)
    assert _ventricle_share(sb) > 2.8 * _ventricle_share(normal)
    assert 0.12 < _ventricle_share(sb) < 0.25


def _atrial_width_from_labels(s):
    """Widest left-right run of ventricle through the right atrium landmark line (axial slice)."""
    a, b = np.array(s.landmarks["atrial_width"])
    centre = (a + b) / 2.0
    i, j, k = _world_to_index(s.labels, centre)
    v = s.labels.spacing[0]
    vent = s.labels.data[:, :, k] == 4
    best = 0.0
    for jj in range(j - 2, j + 3):
        col = vent[:, jj]
        if not col[i]:
            continue
        lo = i
        while lo > 0 and col[lo - 1]:
            lo -= 1
        hi = i
        while hi + 1 < col.size and col[hi + 1]:
            hi += 1
        best = max(best, (hi - lo + 1) * v)
    return best


def test_ventriculomegaly_atrial_width_exceeds_10mm_and_grows_with_severity():
    widths = []
    for sev in (0.5, 1.0, 2.0):
        s = make_subject(32.0, "vm", severity=sev, voxel=0.8, seed=3)
        measured = _atrial_width_from_labels(s)
        assert measured > 10.0, f"severity {sev}: {measured:.1f} mm"
        assert measured == pytest.approx(s.biometry["atrial_width"], abs=2 * 0.8)
        widths.append(s.biometry["atrial_width"])
    assert widths[0] < widths[1] < widths[2] and widths[2] > 15.0
    normal = make_subject(32.0, "normal", voxel=0.8, seed=3)
    assert _atrial_width_from_labels(normal) < 10.0


def test_pathologies_change_what_they_should():
    ga, seed, v = 30.0, 4, 1.2
    normal = make_subject(ga, "normal", voxel=v, seed=seed)
    acc = make_subject(ga, "acc", voxel=v, seed=seed)
    assert (acc.generation.data == 8).sum() == 0 and math.isnan(acc.biometry["LCC"])
    assert (normal.generation.data == 8).sum() > 0
    micro = make_subject(ga, "micro", voxel=v, seed=seed)
    assert norms.zscore("bBIP", micro.biometry["bBIP"], ga) < -3.0
    sb = make_subject(ga, "sb", voxel=v, seed=seed)
    assert norms.zscore("TCD", sb.biometry["TCD"], ga) < -2.0
    vol = lambda s, k: (s.labels.data == k).sum() * s.labels.voxel_volume  # noqa: E731
    assert vol(sb, 1) < 0.8 * vol(normal, 1)  # effaced external CSF
    assert vol(sb, 5) < 0.8 * vol(normal, 5)  # small cerebellum
    # the Chiari cerebellum sits lower (towards the foramen magnum)
    z_of = lambda s: np.argwhere(s.labels.data == 5)[:, 2].mean() * v + s.labels.affine[2, 3]  # noqa: E731
    assert z_of(sb) < z_of(normal) - 2.0


def _tissue_mean(s, gen_label):
    return float(s.image.data[s.generation.data == gen_label].mean())


@pytest.mark.parametrize("ga", [22.0, 34.0])
def test_t2w_contrast_ordering(ga):
    s = make_subject(ga, "normal", voxel=1.0, site="siteE", seed=5)
    m = {k: _tissue_mean(s, k) for k in range(1, 13)}
    assert m[11] > m[3] and m[1] > m[3] and m[4] > m[3]  # fluids brightest
    assert m[3] > m[5] > m[2]  # white matter > cerebellum > cortex
    assert m[3] > m[6]  # deep grey matter dark
    assert m[9] < min(m[k] for k in (2, 3, 5, 6, 7))  # skull darkest


def test_contrast_changes_with_age():
    young = make_subject(22.0, "normal", voxel=1.0, site="siteE", seed=5)
    old = make_subject(36.0, "normal", voxel=1.0, site="siteE", seed=5)
    ratio = lambda s: _tissue_mean(s, 3) / _tissue_mean(s, 11)  # noqa: E731
    assert ratio(old) < ratio(young) - 0.03  # white matter darkens with maturation


def _interior_median(s, gen_label):
    """Median intensity two voxels inside a tissue (no partial volume with its neighbours)."""
    from scipy import ndimage as ndi

    inner = ndi.binary_erosion(s.generation.data == gen_label, iterations=2)
    return float(np.median(s.image.data[inner]))


def test_sites_differ_in_contrast_and_resolution():
    # siteB (contrast 1.2, gamma 0.85) against siteC (0.7, 1.15): the white matter / deep grey matter
    # ratio of the site's tissue means is about 1.73 against 1.55; measured inside both tissues (the thin
    # cortex is all partial volume at 1 mm)
    b = make_subject(28.0, "normal", voxel=1.0, site="siteB", seed=6)
    c = make_subject(28.0, "normal", voxel=1.0, site="siteC", seed=6)
    contrast = lambda s: _interior_median(s, 3) / _interior_median(s, 6)  # noqa: E731
    assert contrast(b) > contrast(c) + 0.05
    assert c.params["acquisition"]["psf_mm"] > b.params["acquisition"]["psf_mm"]


def test_quality_score_follows_the_factors():
    base = dict(SITES["siteE"], slice_axis=2.0, seed_motion=1.0)
    q0 = quality_score(base, 0.8)
    assert q0 == pytest.approx(4.0, abs=0.3)
    worse = [dict(base, noise=0.06), dict(base, motion=0.1), dict(base, slice_mm=6.0, sr_residual=0.6),
             dict(base, bias=0.4)]
    for acq in worse:
        assert quality_score(acq, 0.8) < q0
    assert quality_score(dict(base, noise=0.2, motion=0.3, slice_mm=8.0, sr_residual=0.8), 0.8) == 0.0


def test_same_seed_same_arrays_other_seed_other_subject():
    a = make_subject(25.0, "sb", voxel=1.5, site="siteB", seed=11)
    b = make_subject(25.0, "sb", voxel=1.5, site="siteB", seed=11)
    c = make_subject(25.0, "sb", voxel=1.5, site="siteB", seed=12)
    assert a.generation.data.tobytes() == b.generation.data.tobytes()
    assert a.image.data.tobytes() == b.image.data.tobytes()
    assert a.biometry == b.biometry
    assert a.image.data.tobytes() != c.image.data.tobytes()


@pytest.mark.parametrize("kwargs, match", [
    (dict(ga=19.0), "gestational age"),
    (dict(ga=27.0, pathology="hydro"), "unknown pathology"),
    (dict(ga=27.0, pathology="vm", severity=0.0), "severity"),
    (dict(ga=27.0, voxel=5.0), "voxel"),
    (dict(ga=27.0, site="siteZ"), "unknown site"),
    (dict(ga=27.0, seed=-1), "seed"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_subject(**kwargs)


def test_pathology_list_is_the_documented_one():
    assert PATHOLOGIES == ("normal", "vm", "acc", "sb", "micro")


def test_anatomy_is_typed_frozen_and_pathologies_copy_it():
    import dataclasses

    from fetalseg.phantom import anatomy, pathology

    a = anatomy.draw_anatomy(30.0, np.random.default_rng(0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.callosum.ly = 1.0  # type: ignore[misc]
    acc = pathology.apply(a, "acc", 1.0)
    assert a.callosum.present and not acc.callosum.present and acc.pathology == "acc"
    vm = pathology.apply(a, "vm", 2.0)
    assert vm.ventricles.atrial_width == pytest.approx(16.5) and a.ventricles.atrial_width < 10.0
    # the targets are the norms at the drawn z-scores, for every measure
    for m in norms.MEASURES:
        mean, sd = norms.norm_mean(m, 30.0), norms.norm_sd(m, 30.0)
        if m != "sBIP":  # sBIP is kept at least 4 mm above bBIP
            assert getattr(a.target, m) == pytest.approx(mean + getattr(a.z, m) * sd)
        assert abs(getattr(a.z, m)) <= 1.0


def test_midline_anatomy_on_the_label_map():
    """Callosum thick at genu and splenium, thin in the body; CSF of the callosal sulcus between the
    callosum and the cingulate cortex above it; a primary fissure notching the vermis (brute force on
    the voxel labels of the midsagittal and a parasagittal slice)."""
    s = make_subject(30.0, "normal", voxel=0.5, seed=2)
    gen = s.generation.data
    i0 = _world_to_index(s.generation, (0.0, 0.0, 0.0))[0]
    cc = gen[i0] == 8  # (y, z) at the midline
    ys = np.flatnonzero(cc.any(axis=1))
    span = ys[-1] - ys[0]
    thick = cc.sum(axis=1)  # vertical thickness (voxels) per y column
    front = thick[ys[-1] - span // 8: ys[-1] + 1].max()
    back = thick[ys[0]: ys[0] + span // 8 + 1].max()
    body = np.median(thick[ys[0] + 2 * span // 5: ys[-1] - 2 * span // 5])
    assert front >= 1.5 * body and back >= 1.5 * body, (front, back, body)
    # 3 mm off the midline, straight above the callosal body: the callosum, within 1 mm the CSF of the
    # callosal sulcus (under at most a thin layer of cortex on its floor), then the cingulate cortex
    i3 = _world_to_index(s.generation, (-3.0, 0.0, 0.0))[0]
    j = (ys[0] + ys[-1]) // 2
    col = gen[i3, j, :]
    top = np.flatnonzero(col == 8).max()
    above = col[top + 1: top + 12]
    csf = np.flatnonzero(above == 1)
    assert csf.size and csf[0] <= 2 and np.any(above[csf[-1] + 1:] == 2), above
    # vermis: some vertical line through it meets CSF between two cerebellum runs (the fissure)
    verm = gen[i0] == 5
    notched = [c for c in verm if c.any() and not c[np.flatnonzero(c)[0]: np.flatnonzero(c)[-1] + 1].all()]
    assert notched, "no fissure in the midsagittal vermis"
