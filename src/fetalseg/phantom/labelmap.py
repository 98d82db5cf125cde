"""Rasterise a phantom's anatomy into a GENERATION label map (uint8, :data:`fetalseg.labels.GENERATION`).

The anatomy is a set of implicit shapes evaluated on the voxel grid (world mm, see
:mod:`fetalseg.phantom.anatomy`). Layers, later ones overwriting earlier ones:

1. maternal tissue (12), amniotic fluid (11), fetal body and scalp (10), skull (9);
2. the intracranial space as external CSF (1);
3. the cerebrum: a signed distance ``d`` to the folded outer surface (ellipsoid + sulcal grooves,
   normalised by its numerical gradient), cut by the interhemispheric fissure everywhere except in
   the midline *core* ``K`` (callosum, septum, diencephalon, and the brainstem's way in). Cortex
   (2) is the band ``-t < d <= 0`` outside ``K``, white matter (3) the rest, so each hemisphere's
   cortex is a sheet with one hole where it meets the core: two components, no handle, no cavity;
4. corpus callosum (8), cerebellum (5: two hemispheres + vermis), brainstem (7, through the
   foramen magnum), deep grey matter (6: one mass per hemisphere, thalamus and striatum, with an
   internal capsule; the thalami joined below the third ventricle),
   ventricles (4: two C-shaped lateral ventricles joined through the foramina of Monro and the
   third ventricle, continued up under the callosum as the cavum septi pellucidi).

Thin structures are never thinner than the voxel allows (cortex >= 1.8 voxels, fissure >= 1.3
voxels, ...) so that the topology survives coarse grids; :mod:`fetalseg.phantom.topology` adds a
final cheap guard.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..masks.topology import bbox
from . import cortex, deep
from .codes import AMNIOTIC, BS, CBM, CC, DGM, ECSF, GM, MATERNAL, SCALP, SKULL, VENT, WM
from .params import Anatomy, Geometry
from .shapes import box_slices, capsule_distance, ellipsoid_sd, open_grid, smooth_min, smoothstep


def derived(a: Anatomy, voxel: float) -> Geometry:
    """Voxel-dependent thicknesses and positions used by the rasteriser (mm)."""
    v = float(voxel)
    cov, cer, bs, cb = a.coverings, a.cerebrum, a.brainstem, a.cerebellum
    t = max(a.cortex.thickness, 1.8 * v)
    fiss = max(a.cortex.fissure_width, 1.3 * v)
    gap = max(a.cortex.gap, 2.0 * v)
    pf = max(cov.pf_csf, 2.5 * v)
    tilt = np.radians(bs.tilt_deg)
    # keep at least two voxels of deep grey matter between the third ventricle and the brainstem
    top = np.array([0.0, bs.top_y, bs.top_z - max(0.0, 2.0 * v - 2.0 * cer.ax / 29.0)])
    # the capsule runs well past the foramen magnum; beyond the skull it is labelled spinal cord
    length = (bs.top_z + cer.az_bot + 3.0 * a.target.HV + 40.0)
    z_kb = a.deep.thal_z - 0.3 * a.deep.thal_az
    # box of the brain's base that the brainstem and pons pass through (no cortex there)
    m = t + 2.0 * v
    tan = np.tan(tilt)
    y_lo = bs.top_y - (bs.top_z + cer.az_bot + 2.0) * tan
    y_hi = bs.top_y - (bs.top_z - z_kb) * tan
    r = bs.radius / np.cos(tilt)
    base_y = (min(y_lo - r, bs.pons_y - bs.pons_ay) - m, max(y_hi + r, bs.pons_y + bs.pons_ay) + m)
    # ... reaching back over the whole cerebellar notch, so that the uncovered base is one patch
    base_y = (min(base_y[0], cb.y - cb.ay - gap - m), base_y[1])
    # posterior fossa: an ellipsoid holding the cerebellum, the pons and the medulla
    front = bs.pons_y + bs.pons_ay
    back = cb.y - cb.ay
    pf_c = np.array([0.0, (front + back) / 2.0, cb.z - 0.15 * a.target.HV])
    pf_ax = np.array([cb.hx + cb.ax + pf, (front - back) / 2.0 + pf,
                      max(cb.az, cb.verm_az) + 0.15 * a.target.HV + pf])
    e, skull, scalp = max(cov.ecsf, 2.5 * v), max(cov.skull, 1.2 * v), max(cov.scalp, 1.5 * v)
    fm = _medulla_sleeve(a, top, tilt, pf_c, pf_ax)
    return Geometry(
        v=v, t=t, fiss=fiss, gap=gap, kw=fiss / 2.0 + t + 2.0 * v, e=e, e_min=2.5 * v,
        e_ap=max(0.7 * cov.ecsf, 2.5 * v), e_top=max(0.6 * cov.ecsf, 2.5 * v), e_bot=max(0.5 * cov.ecsf, 2.5 * v),
        pf=pf, skull=skull, scalp=scalp,
        cc_body=max(a.callosum.thick_body, 1.8 * v), cc_ends=max(a.callosum.thick_ends, 2.2 * v),
        cb_fiss=max(a.cerebellum.fissure_half, 0.8 * v),
        bs_a=top, bs_b=top + length * np.array([0.0, -np.sin(tilt), -np.cos(tilt)]), z_kb=z_kb, base_y=base_y,
        base_w=max(bs.radius, bs.pons_ax) + m, notch_y=-np.inf, base_z=max(z_kb, cb.z + max(cb.az, cb.verm_az) + gap + m),
        pf_c=pf_c, pf_ax=pf_ax, fm_a=fm[0], fm_b=fm[1], fm_r=MEDULLA * bs.radius + 0.6 * pf)


def _medulla_sleeve(a: Anatomy, top, tilt: float, pf_c, pf_ax):
    """Axis end points (mm) of the medulla's CSF sleeve through the foramen magnum.

    It runs along the brainstem's axis from the centre height of the posterior fossa to
    ``medulla_drop`` below the fossa's floor, so the brainstem inside the skull is long and slender,
    (:func:`grid` adds axial slices below the head's cube for it).
    """
    z_end = pf_c[2] - pf_ax[2] - a.brainstem.medulla_drop
    axis = np.array([0.0, -np.sin(tilt), -np.cos(tilt)])
    return [top + (top[2] - z) / np.cos(tilt) * axis for z in (pf_c[2], z_end)]


def grid(a: Anatomy, voxel: float, shift=(0.0, 0.0, 0.0)):
    """Grid centred on the cerebrum holding the whole head plus a margin: a cube, lengthened
    downwards (extra axial slices below it) where the medulla's sleeve reaches lower.

    ``shift`` (mm, each below one voxel) moves the voxel centres, i.e. resamples the same anatomy.
    Returns ``(xs, ys, zs, affine)``: 1-D float32 world coordinates (mm) of the voxel centres along
    each axis and the 4x4 voxel-to-world affine (RAS+, axis aligned).
    """
    g = derived(a, voxel)
    cer = a.cerebrum
    head = g.e + g.skull + g.scalp
    half = max(cer.ax + head, cer.ay + head, cer.az_top + head,
               -(g.pf_c[2] - g.pf_ax[2]) + g.skull + g.scalp) + 6.0
    n = int(np.ceil(2.0 * half / voxel))
    n += n % 2
    below = int(np.ceil(max(0.0, -(g.fm_b[2] - g.fm_r) + g.skull + g.scalp + 4.0 - half) / voxel))
    base = (np.arange(n) - (n - 1) / 2.0) * voxel
    bases = (base, base, (np.arange(-below, n) - (n - 1) / 2.0) * voxel)
    axes = [(b + float(d)).astype(np.float32) for b, d in zip(bases, shift)]
    affine = np.diag([voxel, voxel, voxel, 1.0])
    affine[:3, 3] = [float(ax[0]) for ax in axes]
    return axes[0], axes[1], axes[2], affine


def intracranial_sd(X, Y, Z, a: Anatomy, g: Geometry, cerebellum: bool = True):
    """Approximate signed distance (mm) to the inner skull surface: supratentorial egg U posterior fossa."""
    # the extra-axial space is widest over the convexity (sBIP - bBIP), thinner elsewhere
    # the inner skull is as wide as the drawn sBIP, with at least the minimum CSF layer
    cer = a.cerebrum
    taper = _front_taper(Y, a) / cer.ax
    ax_y = np.maximum(0.5 * a.target.sBIP, cer.ax + g.e_min) * taper
    sup = ellipsoid_sd(X, Y, Z, (0.0, 0.0, 0.0), (ax_y, cer.ay + g.e_ap, cer.az_top + g.e_top),
                       base_axis(X, Y, a) + g.e_bot)
    pf = ellipsoid_sd(X, Y, Z, g.pf_c, g.pf_ax)
    # the posterior fossa joins the supratentorial egg smoothly (no crease in the skull), and always
    # leaves a CSF layer of at least ``pf`` around the cerebellum
    out = smooth_min(sup, pf, 0.35 * float(g.pf_ax[2]))
    sleeve, _ = capsule_distance(X, Y, Z, g.fm_a, g.fm_b)
    out = smooth_min(out, sleeve - g.fm_r, 0.6 * g.fm_r)
    if cerebellum:
        out = np.minimum(out, cerebellum_sd(X, Y, Z, a, g) - g.pf)
    return out


TEMPORAL_BULGE = 0.12
"""How much lower (fraction of the lower semi-axis) the temporal lobes reach than the egg."""


def base_axis(X, Y, a: Anatomy):
    """Lower vertical semi-axis (mm) of the cerebrum at ``(X, Y)``: the egg's, deepened under the
    temporal lobes (lateral, from the temporal pole to the atrium) by up to :data:`TEMPORAL_BULGE`,
    so that in coronal sections the temporal lobes hang below the diencephalon and in sagittal ones
    below the frontal base."""
    cer = a.cerebrum
    u = (np.abs(X) / cer.ax - 0.62) / 0.22
    w = (Y / cer.ay - 0.05) / 0.30
    return cer.az_bot * (1.0 + TEMPORAL_BULGE * np.exp(-(u * u) - (w * w)))


def _front_taper(Y, a: Anatomy):
    cer = a.cerebrum
    yn = np.clip(Y / cer.ay, 0.0, 1.0)
    return cer.ax * (1.0 - cer.front_taper * yn * yn)


def cerebellum_sd(X, Y, Z, a: Anatomy, g: Geometry):
    """Approximate signed distance (mm) to the cerebellum (two hemispheres and the vermis, cut by the
    primary fissure)."""
    cb = a.cerebellum
    c = (cb.y, cb.z)
    ax = (cb.ax, cb.ay, cb.az)
    left = ellipsoid_sd(X, Y, Z, (-cb.hx, *c), ax)
    right = ellipsoid_sd(X, Y, Z, (cb.hx, *c), ax)
    verm = ellipsoid_sd(X, Y, Z, (0.0, *c), (cb.verm_ax, cb.verm_ay, cb.verm_az))
    return np.maximum(np.minimum(np.minimum(left, right), verm), -_primary_fissure_sd(Y, Z, a, g))


def _primary_fissure_sd(Y, Z, a: Anatomy, g: Geometry):
    """Signed distance (mm) to the primary fissure: a CSF slit through the whole cerebellum, from its
    upper back surface forwards and down to the centre of the vermis (about half of it deep), seen
    as a notch in the vermis on the midsagittal plane. Its half-width ``g.cb_fiss`` is never under
    0.8 voxels (a solid slit: the lobes join only below it)."""
    cb = a.cerebellum
    u = np.array([-0.8, 1.0]) / np.sqrt(1.64)  # from the bottom of the fissure towards the surface
    n = np.array([u[1], -u[0]])
    # the bottom near the centre: the fissure leaves through the upper back surface, behind the apex
    # of the vermis (the culmen stays whole, so does the vermian height)
    y0, z0 = cb.y - 0.05 * cb.verm_ay, cb.z + 0.2 * cb.verm_az
    py, pz = Y - y0, Z - z0
    return np.maximum(np.abs(py * n[0] + pz * n[1]) - g.cb_fiss, -(py * u[0] + pz * u[1]))


def cerebellum_mask(X, Y, Z, a: Anatomy, g: Geometry, d_cerebrum):
    """Cerebellum voxels: its shape, trimmed in front of ``notch_y`` to keep a ``gap`` from the cerebrum.

    ``d_cerebrum`` is the cerebral implicit function on the same points (+inf where not computed).
    """
    cb = cerebellum_sd(X, Y, Z, a, g) <= 0
    return cb & ~((Y >= g.notch_y) & (d_cerebrum < g.gap))


BRAINSTEM_PROFILE = (0.85, 0.85, 0.75, 0.65, 0.58, 0.52)
"""Brainstem radius (fraction of the midbrain's) at its top, half-way down to the pons, the top, middle
and bottom of the pons, and the medulla below."""
MEDULLA = BRAINSTEM_PROFILE[-1]


def brainstem_sd(X, Y, Z, a: Anatomy, g: Geometry):
    """Approximate signed distance (mm) to the brainstem: a capsule whose radius narrows from the
    midbrain through the pons to the slender medulla (:data:`BRAINSTEM_PROFILE`), with the pons bulging
    in front of it."""
    bs = a.brainstem
    dist, t = capsule_distance(X, Y, Z, g.bs_a, g.bs_b)
    pons = ellipsoid_sd(X, Y, Z, (0.0, bs.pons_y, bs.pons_z), (bs.pons_ax, bs.pons_ay, bs.pons_az))
    length = float(np.linalg.norm(np.asarray(g.bs_b) - np.asarray(g.bs_a)))
    s_pons = (g.bs_a[2] - bs.pons_z) / max(g.bs_a[2] - g.bs_b[2], 1e-6) * length
    knots = (0.0, 0.5 * (s_pons - bs.pons_az), s_pons - bs.pons_az, s_pons, s_pons + bs.pons_az, s_pons + bs.pons_az + 2.0 * bs.radius)
    r = bs.radius * np.interp(t * length, knots, BRAINSTEM_PROFILE)
    r = np.maximum(r, 1.6 * g.v)
    # the midbrain: the cerebral peduncles spread sideways under the thalami
    R = bs.radius
    mid = ellipsoid_sd(X, Y, Z, np.asarray(g.bs_a) + np.array([0.0, 0.0, -0.2 * R]), (1.2 * R, 0.8 * R, 0.9 * R))
    return np.minimum(np.minimum(dist - r, pons), mid)


def core_2d(Y, Z, a: Anatomy, g: Geometry):
    """Midsagittal footprint of the core ``K``: the callosal arch (or the ACC roof) and the diencephalon
    under it.

    Under the arch the footprint narrows downwards, from the arch's full length at its centre height
    to the thalami plus a margin at the base of the core (``z_kb``), and it ends under the thalami:
    a trapezoid, so that the interhemispheric fissure reaches down in front of the lamina terminalis
    and behind the diencephalon (the quadrigeminal cistern), as in the midsagittal plane of a real
    brain. The base box (:func:`cerebrum`) continues it down around the brainstem.
    """
    cc, d = a.callosum, a.deep
    ly, lz = (cc.ly, cc.lz) if cc.present else (cc.ly, cc.acc_roof)
    arch = ((Y - cc.y) / ly) ** 2 + ((Z - cc.z) / lz) ** 2 <= 1.0
    m = g.t + 2.5 * g.v + 1.5
    front_low = min(d.thal_y + d.thal_ay + m, cc.y + ly)
    back_low = max(d.thal_y - d.thal_ay - m, cc.y - ly)
    u = np.clip((cc.z - Z) / max(cc.z - g.z_kb, 1e-3), 0.0, 1.0)
    front = cc.y + ly + u * (front_low - cc.y - ly)
    back = cc.y - ly + u * (back_low - cc.y + ly)
    # ... and ends under the thalami (the hypothalamus included), where the base box takes over
    below = (Z <= cc.z) & (Z >= d.thal_z - d.thal_az - m) & (Y <= front) & (Y >= back)
    return arch | below


def _lateral_grooves(d0, X, Y, Z, ax_y, a: Anatomy, g: Geometry, sulci: dict):
    """``d0`` plus the lateral sulcal grooves of both hemispheres (float32, a new array)."""
    v, cer = g.v, a.cerebrum
    lateral = sulci["right"] + sulci["left"]
    gmax = sum(s[3] for s in lateral) and max(s[3] for s in lateral)
    f = d0.copy()
    if not gmax:
        return f
    inner = gmax + g.t + 5.0 * v
    medial = [m[1] for m in sulci["medial_right"] + sulci["medial_left"]]
    x_mid = g.fiss / 2.0 + (max(medial) if medial else 0.0) + g.t + 1.0
    shell = (d0 > -inner) & (d0 < 4.0 * v)
    Xb, Yb, Zb = np.broadcast_arrays(X, Y, Z)
    az = np.where(Zb < 0, cer.az_bot, cer.az_top)
    axb = np.broadcast_to(ax_y, Xb.shape)
    for side, sel in (("right", shell & (Xb >= 0)), ("left", shell & (Xb < 0))):
        if not sulci[side]:
            continue
        ux = np.abs(Xb[sel]) / axb[sel]
        uy = Yb[sel] / cer.ay
        uz = Zb[sel] / az[sel]
        norm = np.sqrt(ux * ux + uy * uy + uz * uz) + 1e-6
        # fade the grooves out deep inside and far outside so that f stays continuous
        ds = d0[sel]
        w = smoothstep((ds + inner) / (3.0 * v)) * smoothstep((4.0 * v - ds) / (2.0 * v))
        # lateral grooves stay clear of the medial face and its grooves (no meeting under a bridge)
        w = w * smoothstep((np.abs(Xb[sel]) - x_mid) / 3.0)
        f[sel] += w * cortex.groove_depth(ux / norm, uy / norm, uz / norm, sulci[side])
    return f


def _medial_slab(X, Y, Z, e2, a: Anatomy, g: Geometry, sulci: dict):
    """Signed distance-like function of the medial faces (positive in the fissure): ``|x| = fiss/2 +
    groove(y, z)``, normalised by the groove's slope; no groove inside the core footprint ``e2``."""
    v, cer = g.v, a.cerebrum
    yn, zn = Y / cer.ay, Z / cer.az_top
    slabs = []
    for side in ("medial_right", "medial_left"):
        gm = cortex.medial_groove_depth(yn, zn, cer.ay, cer.az_top, sulci[side])
        gm = np.where(e2, np.float32(0.0), gm)
        gy, gz = np.gradient(gm[0], v) if gm.shape[1] > 1 and gm.shape[2] > 1 else (0.0 * gm[0], 0.0 * gm[0])
        slabs.append((g.fiss / 2.0 + gm - np.abs(X)) / np.sqrt(1.0 + gy * gy + gz * gz)[None])
    return np.where(X >= 0, slabs[0], slabs[1])


def cerebrum(X, Y, Z, a: Anatomy, g: Geometry, sulci: dict):
    """Implicit function ``d`` (mm-like, float32, negative inside) of the cerebrum, the core mask
    ``K`` and the sulcal CSF mask.

    ``d`` includes the sulcal grooves, the interhemispheric fissure (with the medial sulci)
    outside ``K``, and the cerebellar notch (a ``gap`` of CSF above the cerebellum). It is close
    to a signed distance away from the grooves; only its sign is used for labels (the cortical
    depth comes from an exact distance transform in :func:`build`). X, Y, Z must be the open grid
    of a regular box (spacing ``g.v``).
    """
    cer = a.cerebrum
    ax_y = _front_taper(Y, a)
    d0 = ellipsoid_sd(X, Y, Z, (0.0, 0.0, 0.0), (ax_y, cer.ay, cer.az_top), base_axis(X, Y, a))
    d0 = np.asarray(d0, dtype=np.float32)
    f = _lateral_grooves(d0, X, Y, Z, ax_y, a, g, sulci)
    e2 = core_2d(Y, Z, a, g)
    slab = _medial_slab(X, Y, Z, e2, a, g, sulci)
    # K: the midline strip under the callosum, plus a box around the brainstem's way into the base;
    # both are bounded by vertical planes that cut the cortical sheet cleanly
    base = (np.abs(X) < g.base_w) & (Y > g.base_y[0]) & (Y < g.base_y[1]) & (Z < g.base_z)
    core = e2 & (np.abs(X) < g.kw)
    near_stem = brainstem_sd(X, Y, Z, a, g) < g.t + 2.0 * g.v
    K = core | base
    # no fissure in the core (nor where the brainstem enters); no cortex in the core nor the base box
    d = np.where(core | (base & near_stem), f, np.maximum(f, slab))
    notch = g.gap - cerebellum_sd(X, Y, Z, a, g)
    d = np.maximum(d, notch)
    # CSF that only the sulcal grooves put there (not the fissure, not the cerebellar notch)
    sulcal = (d > 0) & (d0 <= 0) & (np.abs(X) > g.fiss / 2.0 + 0.5 * g.v) & (notch < 0)
    return d.astype(np.float32), K, sulcal


def build(a: Anatomy, sulci: dict, xs, ys, zs, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """GENERATION labels (uint8, shape (nx, ny, nz)) and the cerebral distance field (float32, mm).

    The distance field (``d`` of :func:`cerebrum`, +inf outside its box) is returned for the image
    model (cortical depth, subplate).
    """
    g = derived(a, voxel)
    X, Y, Z = open_grid(xs, ys, zs)
    shape = (xs.size, ys.size, zs.size)
    lab = np.full(shape, MATERNAL, dtype=np.uint8)
    _surroundings(lab, X, Y, Z, a)
    ic, cbs, cb_sd, Yb = _intracranial(lab, xs, ys, zs, a, g)
    # cerebrum on its bounding box
    cer = a.cerebrum
    m = 2.0 * voxel
    lo = (-cer.ax - m, -cer.ay - m, -cer.az_bot * (1.0 + TEMPORAL_BULGE) - m)
    hi = (cer.ax + m, cer.ay + m, cer.az_top + m)
    sl = box_slices(xs, ys, zs, lo, hi)
    Xc, Yc, Zc = open_grid(xs[sl[0]], ys[sl[1]], zs[sl[2]])
    d, brain, depth = _cerebral_tissues(lab[sl], (Xc, Yc, Zc), a, g, sulci)
    dfull = np.full(shape, np.inf, dtype=np.float32)
    dfull[sl] = d
    dist = np.full(shape, np.inf, dtype=np.float32)
    dist[sl] = np.where(brain, -depth, np.maximum(d, 0.5 * voxel))
    # cerebellum and brainstem (inside the skull; the cord beyond the foramen magnum is soft tissue)
    cb = np.zeros(shape, dtype=bool)
    cb[cbs] = (cb_sd <= 0) & ~((Yb >= g.notch_y) & (dfull[cbs] < g.gap))
    lab[cb & (ic <= 0)] = CBM
    _brainstem(lab, ic, xs, ys, zs, a, g)
    # deep grey matter and ventricles, kept off the cortex (all inside the cerebrum's box)
    _deep_structures(lab[sl], dist[sl], (Xc, Yc, Zc), a, g, voxel)
    return lab, dist


def _surroundings(lab: np.ndarray, X, Y, Z, a: Anatomy) -> None:
    """Amniotic fluid and the fetal body over the maternal tissue (in place)."""
    s, shape = a.surroundings, lab.shape
    amn = ((X - s.amn_x) / s.amn_ax) ** 2 + ((Y - s.amn_y) / s.amn_ay) ** 2 \
        + ((Z - s.amn_z) / s.amn_az) ** 2 <= 1.0
    lab[np.broadcast_to(amn, shape)] = AMNIOTIC
    body = ((X / s.body_ax) ** 2 + ((Y - s.body_y) / s.body_ay) ** 2
            + ((Z - s.body_z) / s.body_az) ** 2) <= 1.0
    lab[np.broadcast_to(body, shape)] = SCALP


def _intracranial(lab: np.ndarray, xs, ys, zs, a: Anatomy, g: Geometry):
    """Scalp, skull and external CSF from the inner-skull distance (in place).

    Returns ``(ic, cbs, cb_sd, Yb)``: the inner-skull distance on the grid, the cerebellum's box
    (slices), the cerebellum's distance and the y coordinates on that box.
    """
    X, Y, Z = open_grid(xs, ys, zs)
    ic = np.asarray(intracranial_sd(X, Y, Z, a, g, cerebellum=False), dtype=np.float32)
    ic = np.broadcast_to(ic, lab.shape).copy()
    # the CSF layer around the cerebellum, on the cerebellum's box only
    cb = a.cerebellum
    cb_half = cb.hx + cb.ax + g.pf + g.skull + g.scalp + 2.0 * g.v
    cb_lo = (-cb_half, cb.y - cb_half, cb.z - cb_half)
    cb_hi = (cb_half, cb.y + cb_half, cb.z + cb_half)
    cbs = box_slices(xs, ys, zs, cb_lo, cb_hi)
    Xb, Yb, Zb = open_grid(xs[cbs[0]], ys[cbs[1]], zs[cbs[2]])
    cb_sd = cerebellum_sd(Xb, Yb, Zb, a, g)
    ic[cbs] = np.minimum(ic[cbs], cb_sd - g.pf)
    lab[ic <= g.skull + g.scalp] = SCALP
    lab[ic <= g.skull] = SKULL
    lab[ic <= 0] = ECSF
    return ic, cbs, cb_sd, Yb


def _cerebral_tissues(sub: np.ndarray, grid_xyz, a: Anatomy, g: Geometry, sulci: dict):
    """White matter, cortex and callosum on the cerebrum's box ``sub`` (a view, in place).

    Returns ``(d, brain, depth)``: the cerebral implicit function, the brain mask and the exact
    depth below the voxelised surface (mm).
    """
    Xc, Yc, Zc = grid_xyz
    voxel = g.v
    d, K, sulcal = cerebrum(Xc, Yc, Zc, a, g, sulci)
    brain = (d <= 0) & (sub == ECSF)
    cube = np.ones((3, 3, 3), dtype=bool)
    sulcal &= sub == ECSF
    if sulcal.any():
        # sulcal CSF narrower than 3 voxels closes up (the banks fuse): no pinched CSF tubes
        csf = (sub == ECSF) & ~brain
        brain |= sulcal & ~ndi.binary_opening(csf, structure=cube)
    # exact depth below the voxelised surface (the brainstem counts as inside, so deep grey matter
    # may reach it): the cortex is never thinner than t (>= 1.8 voxels), so no white-matter voxel
    # touches CSF, not even through a corner
    stem = brainstem_sd(Xc, Yc, Zc, a, g) <= 0
    depth = ndi.distance_transform_edt(brain | stem, sampling=voxel).astype(np.float32) - 0.5 * voxel
    band = brain & (depth < g.t) & ~K
    # white matter narrower than 3 voxels under the cortex (thin gyral cores) becomes cortex
    wm = brain & ~band
    band |= wm & ~K & (depth < g.t + 3.0 * voxel) & ~ndi.binary_opening(wm, structure=cube)
    sub[brain] = WM
    sub[band] = GM
    if a.callosum.present:
        sub[deep.callosum(Xc, Yc, Zc, a, g) & brain] = CC
    return d, brain, depth


def _brainstem(lab: np.ndarray, ic: np.ndarray, xs, ys, zs, a: Anatomy, g: Geometry) -> None:
    """Brainstem inside the skull (over the cerebellum); beyond the foramen magnum soft tissue (in place)."""
    bs = a.brainstem
    a_, b_ = g.bs_a, g.bs_b
    r = max(1.2 * bs.radius, bs.pons_ax, bs.pons_ay, bs.pons_az) + g.v
    bss = box_slices(xs, ys, zs, np.minimum(a_, b_) - r, np.maximum(a_, b_) + r)
    m = np.zeros(lab.shape, dtype=bool)
    m[bss] = brainstem_sd(*open_grid(xs[bss[0]], ys[bss[1]], zs[bss[2]]), a, g) <= 0
    lab[m & (ic <= g.skull + 0.5 * g.v) & (lab != CBM)] = BS
    lab[m & (ic > g.skull + 0.5 * g.v)] = SCALP
    lab[m & (lab == CBM)] = BS


def _deep_structures(lab: np.ndarray, dist: np.ndarray, grid_xyz, a: Anatomy, g: Geometry, voxel: float) -> None:
    """Write deep grey matter and ventricles into ``lab`` (a view of the cerebrum's box)."""
    shape = lab.shape
    deep_ok = dist < -(g.t + 2.5 * voxel)
    lat, third = deep.ventricles(*grid_xyz, a, g, parts=True)
    lat = np.broadcast_to(lat, shape) & deep_ok
    box = bbox(lat, 2)
    if box is not None:  # temporal horns squeezed by the mantle: no sliver thinner than 3 voxels (loops)
        low = np.broadcast_to(grid_xyz[2] < a.ventricles.zc, shape)[box]
        lat[box] = np.where(low, ndi.binary_opening(lat[box], structure=np.ones((3, 3, 3), bool)), lat[box])
    # deep grey matter keeps two voxels of white matter from the lateral ventricles: it touches the
    # ventricular system only around the third ventricle, so no loop forms through white matter
    near = np.zeros(shape, dtype=bool)
    box = bbox(lat, 3)
    if box is not None:
        near[box] = ndi.binary_dilation(lat[box], structure=np.ones((3, 3, 3), bool), iterations=2)
    dgm = np.broadcast_to(deep.deep_grey(*grid_xyz, a, g), shape) & deep_ok & ~near
    box = bbox(dgm, 2)
    if box is not None:  # squeezed deep grey matter: no sliver thinner than 3 voxels (it would make loops)
        dgm[box] = ndi.binary_opening(dgm[box], structure=np.ones((3, 3, 3), bool))
    lab[dgm] = DGM
    lab[lat] = VENT
    lab[np.broadcast_to(third, shape) & deep_ok] = VENT
