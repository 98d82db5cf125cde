"""Anatomical parameters of a phantom: sizes and positions of every structure from gestational age.

World frame (mm, RAS+): ``x`` right, ``y`` anterior, ``z`` superior, origin at the centre of the
cerebrum. The standard biometry planes are axis aligned: axial ``z = 0`` (bBIP, sBIP), coronal
through the cerebellum (TCD), midsagittal ``x = 0`` (HV, LCC).

Every size starts from the normative curves of :mod:`fetalseg.norms` at the subject's GA plus a
per-subject z-score drawn within +-1 SD (one global size factor shared by all measures plus a
small independent part). The anatomy is then *built* to those targets; the biometry truth is
measured back from the anatomy (:mod:`fetalseg.phantom.biometry_truth`), never copied from here.
Pathologies modify the parameters in :mod:`fetalseg.phantom.pathology`. The parameters are the
typed dataclasses of :mod:`fetalseg.phantom.params`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import norms
from .params import (Anatomy, Brainstem, Callosum, Cerebellum, Cerebrum, Cortex, Coverings, DeepGrey, Sizes,
                     Surroundings, Ventricles)

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


def _draw_sizes(ga: float, rng: np.random.Generator, z_shift: dict[str, float] | None):
    """Per-measure z-scores and targets, and the 8 shape factors (uniform in [-1, 1])."""
    zg = rng.uniform(-1.0, 1.0)
    zs = {m: float(np.clip(0.6 * zg + 0.4 * rng.uniform(-1.0, 1.0), -1.0, 1.0)) for m in norms.MEASURES}
    shape = rng.uniform(-1.0, 1.0, size=8)
    # skull and brain widths go together (the CSF between them is thin): sBIP follows bBIP
    zs["sBIP"] = float(np.clip(0.85 * zs["bBIP"] + 0.15 * rng.uniform(-1.0, 1.0), -1.0, 1.0))
    for m in norms.MEASURES:
        zs[m] += float((z_shift or {}).get(m, 0.0))
    target = {m: _target(m, ga, z) for m, z in zs.items()}
    target["sBIP"] = max(target["sBIP"], target["bBIP"] + 4.0)
    return Sizes(**zs), Sizes(**target), shape


def draw_anatomy(ga: float, rng: np.random.Generator, z_shift: dict[str, float] | None = None) -> Anatomy:
    """Draw the anatomy of one subject at gestational age ``ga`` (weeks).

    ``z_shift`` (measure -> SD units) moves the size targets away from the norms; pathologies use
    it (microcephaly: brain below -3 SD; Chiari II: small cerebellum). Without it the subject is
    normal: every target lies within +-1 SD.

    Returns an :class:`~fetalseg.phantom.params.Anatomy` without surroundings (see
    :func:`draw_surroundings`). Exactly the same sequence of random draws is made for every GA,
    so a seed fixes a subject.
    """
    ga = check_ga(ga)
    z, target, shape = _draw_sizes(ga, rng, z_shift)
    bbip, sbip = target.bBIP, target.sBIP
    # cerebrum: asymmetric ellipsoid (upper / lower vertical semi-axes), frontal taper
    cer = Cerebrum(ax=bbip / 2.0, ay=bbip * (0.62 + 0.02 * shape[0]), az_top=bbip * (0.44 + 0.015 * shape[1]),
                   az_bot=bbip * (0.44 + 0.015 * shape[2]), front_taper=0.14 + 0.03 * shape[3])
    ecsf = (sbip - bbip) / 2.0
    cov = Coverings(ecsf=ecsf, skull=0.8 + 0.05 * (ga - 20.0), scalp=2.0 + 0.12 * (ga - 20.0), pf_csf=0.6 * ecsf)
    ctx = Cortex(thickness=1.7 + 0.03 * (ga - 20.0) + 0.1 * shape[4], fissure_width=1.2 + 0.03 * (ga - 20.0),
                 gap=1.0)
    s = bbip / 58.0
    cc = _callosum(target.LCC, cer, bbip)
    vent, deep = _ventricles_and_deep(cc, s, 6.5 + 0.4 * shape[5])
    bs, cb = _hindbrain(cer, deep, target, s, shape)
    return Anatomy(ga=ga, z=z, target=target, cerebrum=cer, coverings=cov, cortex=ctx, callosum=cc,
                   ventricles=vent, deep=deep, brainstem=bs, cerebellum=cb)


def _callosum(lcc: float, cer: Cerebrum, bbip: float) -> Callosum:
    """Corpus callosum: elliptical arch in the midsagittal plane, length LCC."""
    lz = 0.23 * lcc
    return Callosum(present=True, ly=lcc / 2.0, lz=lz, y=0.06 * cer.ay, z=0.12 * cer.az_top, thick_ends=0.12 * lcc,
                    thick_body=0.065 * lcc, half_width=0.16 * bbip, fornix=0.05 * lcc)


def _ventricles_and_deep(cc: Callosum, s: float, atrial_width: float) -> tuple[Ventricles, DeepGrey]:
    """Lateral ventricles (C-shaped tube: frontal horn, body under the callosum, atrium, temporal
    horn), thalami under the ventricular bodies, basal ganglia lateral to the frontal horns."""
    lcc = 2.0 * cc.ly
    # the bodies and frontal horns grow slower than the brain (with the square root of its scale): the lateral
    # ventricles' volume grows about 3 % a week after 24 w, the brain's 10-15 % (Ma et al. 2019, Medicine 98:e16118).
    # The room between the callosum and the thalami (half-height ``room``) grows with the brain, so that every other
    # structure keeps its place; a young brain has no room for a taller body.
    k, room = s ** 0.5, 4.4 * s
    body_width, body_height = 5.2 * k, 4.4 * min(k, s)
    z_body = cc.z + cc.lz - cc.thick_body - room - 0.6 * s
    thal_ax, thal_ay, thal_az = 7.5 * s, 10.5 * s, 7.5 * s
    yc = cc.y - 0.08 * lcc
    thal_y = yc - 1.5 * s
    thal_z = z_body - room - thal_az - 1.0 * s  # fornix between
    zc = thal_z + 0.45 * thal_az
    rz = z_body - zc
    x_body = 7.5 * s
    # the temporal horn runs under the lentiform nucleus, never through it
    below_bg = thal_z - 8.3 * s
    rz_bottom = max(0.75 * rz, zc - below_bg)
    vent = Ventricles(body_width=body_width, body_height=body_height, front_width=4.4 * k, atrial_width=atrial_width,
                      occ_horn_length=12.0 * s, third_width=1.0, yc=yc, zc=zc, ry=0.5 * lcc, rz=rz,
                      rz_bottom=rz_bottom, x_front=6.0 * s, x_body=x_body, x_atrium=12.5 * s, x_temporal=15.5 * s)
    # the striatum (caudate head and lentiform) lateral to and in front of the thalamus, merged with it
    deep = DeepGrey(thal_ax=thal_ax, thal_ay=thal_ay, thal_az=thal_az, thal_x=5.4 * s, thal_y=thal_y, thal_z=thal_z,
                    bg_ax=6.0 * s, bg_ay=13.5 * s, bg_az=9.0 * s, bg_x=12.0 * s, bg_y=thal_y + 6.0 * s,
                    bg_z=thal_z + 3.0 * s, capsule_width=1.5 * s, capsule_depth=0.5)
    return vent, deep


def _hindbrain(cer: Cerebrum, deep: DeepGrey, target: Sizes, s: float, shape) -> tuple[Brainstem, Cerebellum]:
    """Brainstem (straight capsule from inside the thalami, tilted back, through the foramen magnum)
    and cerebellum (two hemispheres + vermis behind the pons, under the occipital lobes)."""
    tcd, hv = target.TCD, target.HV
    radius = 7.0 * s ** 0.8
    tilt = 24.0 + 4.0 * shape[7]
    top_y = deep.thal_y - 1.0 * s
    top_z = deep.thal_z - 0.45 * deep.thal_az - radius - 2.0 * s  # below the 3rd ventricle
    # the cerebellum's top near the level of the thalami's floor, the pons in front of it, the midbrain between
    cb_z = -0.48 * cer.az_bot - 0.85 * hv
    tan = np.tan(np.radians(tilt))
    y_bs_at_cb = top_y - (top_z - cb_z) * tan
    verm_ay = 0.33 * hv
    hx = 0.42 * tcd / 2.0
    cb = Cerebellum(y=y_bs_at_cb - radius - 0.8 * verm_ay, z=cb_z, hx=hx, ax=tcd / 2.0 - hx, ay=0.26 * tcd,
                    az=0.5 * hv * (0.92 + 0.04 * shape[6]), verm_ax=0.16 * tcd, verm_ay=verm_ay, verm_az=0.5 * hv)
    bs = Brainstem(radius=radius, tilt_deg=tilt, top_y=top_y, top_z=top_z, pons_ax=6.2 * s, pons_ay=5.4 * s,
                   pons_az=6.2 * s, pons_y=y_bs_at_cb + 0.55 * radius, pons_z=cb_z + 0.15 * hv, medulla_drop=0.3 * hv)
    return bs, cb


def draw_surroundings(a: Anatomy, rng: np.random.Generator) -> Anatomy:
    """The anatomy ``a`` with the amniotic cavity and the fetal body (mm) added.

    The amniotic cavity is an ellipsoid 1.3-1.8 times the head, shifted so that the head lies off
    centre (often against the uterine wall); the fetal body is an ellipsoid under the head.
    """
    cer, ecsf = a.cerebrum, a.coverings.ecsf
    head = np.array([cer.ax, cer.ay, cer.az_top]) + ecsf + 4.0
    scale = rng.uniform(1.3, 1.8, size=3)
    shift = rng.uniform(-0.5, 0.5, size=3)
    amn_a = [float(head[i] * scale[i]) for i in range(3)]
    amn_c = [float(shift[i] * head[i] * (scale[i] - 1.0)) for i in range(3)]
    body_az = float(1.3 * head[2])
    sur = Surroundings(amn_ax=amn_a[0], amn_ay=amn_a[1], amn_az=amn_a[2], amn_x=amn_c[0], amn_y=amn_c[1],
                       amn_z=amn_c[2], body_ax=float(0.95 * head[0]), body_ay=float(1.1 * head[1]), body_az=body_az,
                       body_y=float(-0.35 * head[1]), body_z=float(-(cer.az_bot + ecsf + 0.9 * body_az)))
    return replace(a, surroundings=sur)
