"""Anatomical parameters of a phantom: sizes and positions of every structure from gestational age.

World frame (mm, RAS+): ``x`` right, ``y`` anterior, ``z`` superior, origin at the centre of the
cerebrum. The standard biometry planes are axis aligned: axial ``z = 0`` (bBIP, sBIP), coronal
through the cerebellum (TCD), midsagittal ``x = 0`` (HV, LCC).

Every size starts from the normative curves of :mod:`fetalseg.norms` at the subject's GA plus a
per-subject z-score drawn within +-1 SD (one global size factor shared by all measures plus a
small independent part). The anatomy is then *built* to those targets; the biometry truth is
measured back from the anatomy (:mod:`fetalseg.phantom.biometry_truth`), never copied from here.
Pathologies modify the parameters in :mod:`fetalseg.phantom.pathology`.
"""

from __future__ import annotations

import numpy as np

from .. import norms

GA_MIN, GA_MAX = 20.0, 38.0
PATHOLOGIES = ("normal", "vm", "acc", "sb", "micro")


def check_ga(ga: float) -> float:
    """Validate a gestational age in weeks (20-38) and return it as float."""
    ga = float(ga)
    if not np.isfinite(ga) or ga < GA_MIN or ga > GA_MAX:
        raise ValueError(f"gestational age must be within {GA_MIN:g}-{GA_MAX:g} weeks, got {ga:g}")
    return ga


def _target(measure: str, ga: float, z: float) -> float:
    return norms.norm_mean(measure, ga) + z * norms.norm_sd(measure, ga)


def draw_anatomy(ga: float, rng: np.random.Generator, z_shift: dict[str, float] | None = None) -> dict[str, float]:
    """Draw the anatomy of one subject at gestational age ``ga`` (weeks).

    ``z_shift`` (measure -> SD units) moves the size targets away from the norms; pathologies use
    it (microcephaly: brain below -3 SD; Chiari II: small cerebellum). Without it the subject is
    normal: every target lies within +-1 SD.

    Returns a flat dict of floats (mm unless named otherwise). The ``z_*`` entries are the drawn
    per-subject z-scores (within +-1), ``target_*`` the sizes the anatomy is built to.
    Exactly the same sequence of random draws is made for every GA, so a seed fixes a subject.
    """
    ga = check_ga(ga)
    zg = rng.uniform(-1.0, 1.0)
    zs = {m: float(np.clip(0.6 * zg + 0.4 * rng.uniform(-1.0, 1.0), -1.0, 1.0)) for m in norms.MEASURES}
    shape = rng.uniform(-1.0, 1.0, size=8)
    p: dict[str, float] = {"ga": ga}
    # skull and brain widths go together (the CSF between them is thin): sBIP follows bBIP
    zs["sBIP"] = float(np.clip(0.85 * zs["bBIP"] + 0.15 * rng.uniform(-1.0, 1.0), -1.0, 1.0))
    for m in norms.MEASURES:
        zs[m] += float((z_shift or {}).get(m, 0.0))
    for m, z in zs.items():
        p[f"z_{m}"] = z
        p[f"target_{m}"] = _target(m, ga, z)
    bbip = p["target_bBIP"]
    sbip = max(p["target_sBIP"], bbip + 4.0)
    p["target_sBIP"] = sbip
    # cerebrum: asymmetric ellipsoid (upper / lower vertical semi-axes), frontal taper
    p["cer_ax"] = bbip / 2.0
    p["cer_ay"] = bbip * (0.62 + 0.02 * shape[0])
    p["cer_az_top"] = bbip * (0.44 + 0.015 * shape[1])
    p["cer_az_bot"] = bbip * (0.44 + 0.015 * shape[2])
    p["cer_front_taper"] = 0.14 + 0.03 * shape[3]
    # external CSF and skull
    p["ecsf"] = (sbip - bbip) / 2.0
    p["skull_thickness"] = 0.8 + 0.05 * (ga - 20.0)
    p["scalp_thickness"] = 2.0 + 0.12 * (ga - 20.0)
    # cortex
    p["cortex_thickness"] = 1.7 + 0.03 * (ga - 20.0) + 0.1 * shape[4]
    p["fissure_width"] = 1.2 + 0.03 * (ga - 20.0)
    # corpus callosum: elliptical arch in the midsagittal plane, length LCC
    lcc = p["target_LCC"]
    s = bbip / 58.0
    p["cc_present"] = 1.0
    p["cc_ly"] = lcc / 2.0
    p["cc_lz"] = 0.23 * lcc
    p["cc_y"] = 0.06 * p["cer_ay"]
    p["cc_z"] = 0.12 * p["cer_az_top"]
    p["cc_thick_ends"] = 0.12 * lcc
    p["cc_thick_body"] = 0.065 * lcc
    p["cc_drop"] = 0.18 * p["cc_lz"]
    p["cc_half_width"] = 0.16 * bbip
    # lateral ventricles: C-shaped tube (frontal horn, body under the callosum, atrium, temporal horn)
    p["vent_body_width"] = 5.4 * s  # lateral half-width of the body
    p["vent_body_height"] = 4.4 * s  # vertical half-height of the body
    p["vent_front_width"] = 4.6 * s
    p["atrial_width"] = 6.5 + 0.4 * shape[5]  # full mediolateral width of the atrium, mm
    p["occ_horn_length"] = 12.0 * s
    p["third_vent_width"] = 1.0
    z_body = p["cc_z"] + p["cc_lz"] - p["cc_thick_body"] - p["vent_body_height"] - 0.6 * s
    # thalami under the ventricular bodies, basal ganglia lateral to the frontal horns
    p["thal_ax"], p["thal_ay"], p["thal_az"] = 7.5 * s, 10.5 * s, 7.5 * s
    p["thal_x"] = 5.4 * s
    p["vent_yc"] = p["cc_y"] - 0.08 * lcc
    p["thal_y"] = p["vent_yc"] - 1.5 * s
    p["thal_z"] = z_body - p["vent_body_height"] - p["thal_az"] - 1.0 * s  # fornix between
    p["vent_zc"] = p["thal_z"] + 0.45 * p["thal_az"]
    p["vent_ry"] = 0.5 * lcc
    p["vent_rz"] = z_body - p["vent_zc"]
    # the temporal horn runs under the basal ganglia, never through them
    p["vent_rz_bottom"] = 0.75 * p["vent_rz"]
    p["vent_x_front"] = 6.0 * s
    p["vent_x_body"] = 7.5 * s
    p["vent_x_atrium"] = 12.5 * s
    p["vent_x_temporal"] = 15.5 * s
    p["bg_ax"], p["bg_ay"], p["bg_az"] = 5.4 * s, 13.5 * s, 6.5 * s
    p["bg_x"] = p["vent_x_body"] + p["vent_body_width"] + p["bg_ax"] + 0.8 * s
    p["bg_y"] = p["thal_y"] + 7.5 * s
    p["bg_z"] = p["thal_z"] + 3.0 * s
    below_bg = p["bg_z"] - p["bg_az"] - 3.3 * s - 1.5 * s
    p["vent_rz_bottom"] = max(p["vent_rz_bottom"], p["vent_zc"] - below_bg)
    # brainstem: straight capsule from inside the thalami, tilted back, through the foramen magnum
    tcd, hv = p["target_TCD"], p["target_HV"]
    p["bs_radius"] = 6.6 * s ** 0.8
    p["bs_tilt_deg"] = 24.0 + 4.0 * shape[7]
    p["bs_top_y"] = p["thal_y"] - 1.0 * s
    p["bs_top_z"] = p["thal_z"] - 0.45 * p["thal_az"] - p["bs_radius"] - 2.0 * s  # below the 3rd ventricle
    p["pons_ax"], p["pons_ay"], p["pons_az"] = 6.6 * s, 6.0 * s, 7.0 * s
    # cerebellum: two hemispheres + vermis behind the pons, under the occipital lobes
    p["cb_z"] = -0.48 * p["cer_az_bot"] - 0.5 * hv
    tan = np.tan(np.radians(p["bs_tilt_deg"]))
    y_bs_at_cb = p["bs_top_y"] - (p["bs_top_z"] - p["cb_z"]) * tan
    p["verm_ay"] = 0.33 * hv
    p["verm_az"] = 0.5 * hv
    p["verm_ax"] = 0.16 * tcd
    p["cb_y"] = y_bs_at_cb - p["bs_radius"] - 0.8 * p["verm_ay"]
    p["cb_hx"] = 0.42 * tcd / 2.0
    p["cb_ax"] = tcd / 2.0 - p["cb_hx"]
    p["cb_ay"] = 0.26 * tcd
    p["cb_az"] = 0.5 * hv * (0.92 + 0.04 * shape[6])
    p["pons_y"] = y_bs_at_cb + 0.5 * p["bs_radius"]
    p["pons_z"] = p["cb_z"] + 0.15 * hv
    p["pf_csf"] = 0.6 * p["ecsf"]
    p["gap"] = 1.0
    return p


def draw_surroundings(p: dict[str, float], rng: np.random.Generator) -> dict[str, float]:
    """Add the amniotic cavity and the fetal body (mm) to the anatomy ``p`` (in place; returned).

    The amniotic cavity is an ellipsoid 1.3-1.8 times the head, shifted so that the head lies off
    centre (often against the uterine wall); the fetal body is an ellipsoid under the head.
    """
    head = np.array([p["cer_ax"], p["cer_ay"], p["cer_az_top"]]) + p["ecsf"] + 4.0
    scale = rng.uniform(1.3, 1.8, size=3)
    shift = rng.uniform(-0.5, 0.5, size=3)
    for i, k in enumerate("xyz"):
        p[f"amn_a{k}"] = float(head[i] * scale[i])
        p[f"amn_{k}"] = float(shift[i] * head[i] * (scale[i] - 1.0))
    p["body_ax"] = float(0.95 * head[0])
    p["body_ay"] = float(1.1 * head[1])
    p["body_az"] = float(1.3 * head[2])
    p["body_y"] = float(-0.35 * head[1])
    p["body_z"] = float(-(p["cer_az_bot"] + p["ecsf"] + 0.9 * p["body_az"]))
    return p
