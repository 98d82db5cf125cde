"""Rasterise a phantom's anatomy into a GENERATION label map (values 0-12, uint8).

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
   foramen magnum), deep grey matter (6: thalami joined below the third ventricle, basal ganglia),
   ventricles (4: two C-shaped lateral ventricles joined through the foramina of Monro and the
   third ventricle).

Thin structures are never thinner than the voxel allows (cortex >= 1.8 voxels, fissure >= 1.3
voxels, ...) so that the topology survives coarse grids; :mod:`fetalseg.phantom.topology` adds a
final cheap guard.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from . import cortex, deep
from .shapes import box_slices, capsule_distance, ellipsoid_sd, open_grid, smoothstep


def derived(p: dict, voxel: float) -> dict:
    """Voxel-dependent thicknesses and positions used by the rasteriser (mm)."""
    v = float(voxel)
    g = {"v": v}
    g["t"] = max(p["cortex_thickness"], 1.8 * v)
    g["fiss"] = max(p["fissure_width"], 1.3 * v)
    g["gap"] = max(p["gap"], 2.0 * v)
    g["kw"] = g["fiss"] / 2.0 + g["t"] + 2.0 * v
    g["e"] = max(p["ecsf"], 2.5 * v)
    g["e_min"] = 2.5 * v
    g["e_ap"] = max(0.7 * p["ecsf"], 2.5 * v)
    g["e_top"] = max(0.6 * p["ecsf"], 2.5 * v)
    g["e_bot"] = max(0.5 * p["ecsf"], 2.5 * v)
    g["pf"] = max(p["pf_csf"], 2.5 * v)
    g["skull"] = max(p["skull_thickness"], 1.2 * v)
    g["scalp"] = max(p["scalp_thickness"], 1.5 * v)
    g["cc_body"] = max(p["cc_thick_body"], 1.8 * v)
    g["cc_ends"] = max(p["cc_thick_ends"], 2.2 * v)
    tilt = np.radians(p["bs_tilt_deg"])
    # keep at least two voxels of deep grey matter between the third ventricle and the brainstem
    top = np.array([0.0, p["bs_top_y"], p["bs_top_z"] - max(0.0, 2.0 * v - 2.0 * p["cer_ax"] / 29.0)])
    # the capsule runs well past the foramen magnum; beyond the skull it is labelled spinal cord
    length = (p["bs_top_z"] + p["cer_az_bot"] + 3.0 * p["target_HV"] + 40.0)
    g["bs_a"] = top
    g["bs_b"] = top + length * np.array([0.0, -np.sin(tilt), -np.cos(tilt)])
    g["z_kb"] = p["thal_z"] - 0.3 * p["thal_az"]
    # box of the brain's base that the brainstem and pons pass through (no cortex there)
    m = g["t"] + 2.0 * v
    tan = np.tan(tilt)
    y_lo = p["bs_top_y"] - (p["bs_top_z"] + p["cer_az_bot"] + 2.0) * tan
    y_hi = p["bs_top_y"] - (p["bs_top_z"] - g["z_kb"]) * tan
    r = p["bs_radius"] / np.cos(tilt)
    g["base_y"] = (min(y_lo - r, p["pons_y"] - p["pons_ay"]) - m, max(y_hi + r, p["pons_y"] + p["pons_ay"]) + m)
    g["base_w"] = max(p["bs_radius"], p["pons_ax"]) + m
    # ... reaching back over the whole cerebellar notch, so that the uncovered base is one patch
    g["base_y"] = (min(g["base_y"][0], p["cb_y"] - p["cb_ay"] - g["gap"] - m), g["base_y"][1])
    g["notch_y"] = -np.inf
    g["base_z"] = max(g["z_kb"], p["cb_z"] + max(p["cb_az"], p["verm_az"]) + g["gap"] + m)
    # posterior fossa: an ellipsoid holding the cerebellum, the pons and the medulla
    front = p["pons_y"] + p["pons_ay"]
    back = p["cb_y"] - p["cb_ay"]
    g["pf_c"] = np.array([0.0, (front + back) / 2.0, p["cb_z"] - 0.15 * p["target_HV"]])
    g["pf_ax"] = np.array([p["cb_hx"] + p["cb_ax"] + g["pf"], (front - back) / 2.0 + g["pf"],
                           max(p["cb_az"], p["verm_az"]) + 0.15 * p["target_HV"] + g["pf"]])
    return g


def grid(p: dict, voxel: float, shift=(0.0, 0.0, 0.0)):
    """Cubic grid centred on the cerebrum holding the whole head plus a margin.

    ``shift`` (mm, each below one voxel) moves the voxel centres, i.e. resamples the same anatomy.
    Returns ``(xs, ys, zs, affine)``: 1-D float32 world coordinates (mm) of the voxel centres along
    each axis and the 4x4 voxel-to-world affine (RAS+, axis aligned).
    """
    g = derived(p, voxel)
    head = g["e"] + g["skull"] + g["scalp"]
    half = max(p["cer_ax"] + head, p["cer_ay"] + head, p["cer_az_top"] + head,
               -(g["pf_c"][2] - g["pf_ax"][2]) + g["skull"] + g["scalp"]) + 6.0
    n = int(np.ceil(2.0 * half / voxel))
    n += n % 2
    base = (np.arange(n) - (n - 1) / 2.0) * voxel
    axes = [(base + float(d)).astype(np.float32) for d in shift]
    affine = np.diag([voxel, voxel, voxel, 1.0])
    affine[:3, 3] = [float(a[0]) for a in axes]
    return axes[0], axes[1], axes[2], affine


def intracranial_sd(X, Y, Z, p: dict, g: dict, cerebellum: bool = True):
    """Approximate signed distance (mm) to the inner skull surface: supratentorial egg U posterior fossa."""
    # the extra-axial space is widest over the convexity (sBIP - bBIP), thinner elsewhere
    # the inner skull is as wide as the drawn sBIP, with at least the minimum CSF layer
    e = g["e"]
    taper = _front_taper(Y, p) / p["cer_ax"]
    ax_y = np.maximum(0.5 * p["target_sBIP"], p["cer_ax"] + g["e_min"]) * taper
    sup = ellipsoid_sd(X, Y, Z, (0.0, 0.0, 0.0), (ax_y, p["cer_ay"] + g["e_ap"], p["cer_az_top"] + g["e_top"]),
                       p["cer_az_bot"] + g["e_bot"])
    pf = ellipsoid_sd(X, Y, Z, g["pf_c"], g["pf_ax"])
    # the posterior fossa always leaves a CSF layer of at least ``pf`` around the cerebellum
    out = np.minimum(sup, pf)
    if cerebellum:
        out = np.minimum(out, cerebellum_sd(X, Y, Z, p) - g["pf"])
    return out


def _front_taper(Y, p):
    yn = np.clip(Y / p["cer_ay"], 0.0, 1.0)
    return p["cer_ax"] * (1.0 - p["cer_front_taper"] * yn * yn)


def cerebellum_sd(X, Y, Z, p: dict):
    """Approximate signed distance (mm) to the cerebellum (two hemispheres and the vermis)."""
    c = (p["cb_y"], p["cb_z"])
    ax = (p["cb_ax"], p["cb_ay"], p["cb_az"])
    left = ellipsoid_sd(X, Y, Z, (-p["cb_hx"], *c), ax)
    right = ellipsoid_sd(X, Y, Z, (p["cb_hx"], *c), ax)
    verm = ellipsoid_sd(X, Y, Z, (0.0, *c), (p["verm_ax"], p["verm_ay"], p["verm_az"]))
    return np.minimum(np.minimum(left, right), verm)


def cerebellum_mask(X, Y, Z, p: dict, g: dict, d_cerebrum):
    """Cerebellum voxels: its shape, trimmed in front of ``notch_y`` to keep a ``gap`` from the cerebrum.

    ``d_cerebrum`` is the cerebral implicit function on the same points (+inf where not computed).
    """
    cb = cerebellum_sd(X, Y, Z, p) <= 0
    return cb & ~((Y >= g["notch_y"]) & (d_cerebrum < g["gap"]))


def brainstem_sd(X, Y, Z, p: dict, g: dict):
    """Approximate signed distance (mm) to the brainstem capsule and the pons."""
    dist, _ = capsule_distance(X, Y, Z, g["bs_a"], g["bs_b"])
    pons = ellipsoid_sd(X, Y, Z, (0.0, p["pons_y"], p["pons_z"]), (p["pons_ax"], p["pons_ay"], p["pons_az"]))
    return np.minimum(dist - p["bs_radius"], pons)


def core_2d(Y, Z, p: dict, g: dict):
    """Midsagittal footprint of the core ``K``: below the callosal arch (or the ACC roof)."""
    if p["cc_present"] > 0.5:
        ly, lz = p["cc_ly"], p["cc_lz"]
    else:
        ly, lz = p["cc_ly"], p["acc_roof"]
    yc, zc = p["cc_y"], p["cc_z"]
    arch = ((Y - yc) / ly) ** 2 + ((Z - zc) / lz) ** 2 <= 1.0
    below = (Z <= zc) & (np.abs(Y - yc) <= ly)
    return arch | below


def cerebrum(X, Y, Z, p: dict, g: dict, sulci: dict):
    """Implicit function ``d`` (mm-like, float32, negative inside) of the cerebrum and the core mask ``K``.

    ``d`` includes the sulcal grooves, the interhemispheric fissure (with the medial sulci)
    outside ``K``, and the cerebellar notch (a ``gap`` of CSF above the cerebellum). It is close
    to a signed distance away from the grooves; only its sign is used for labels (the cortical
    depth comes from an exact distance transform in :func:`build`). X, Y, Z must be the open grid
    of a regular box (spacing ``g['v']``).
    """
    v = g["v"]
    ax_y = _front_taper(Y, p)
    d0 = ellipsoid_sd(X, Y, Z, (0.0, 0.0, 0.0), (ax_y, p["cer_ay"], p["cer_az_top"]), p["cer_az_bot"])
    d0 = np.asarray(d0, dtype=np.float32)
    gmax = sum(s[3] for s in sulci["right"] + sulci["left"]) and max(s[3] for s in sulci["right"] + sulci["left"])
    f = d0.copy()
    if gmax:
        inner = gmax + g["t"] + 5.0 * v
        medial = [m[2] for m in sulci["medial_right"] + sulci["medial_left"]]
        x_mid = g["fiss"] / 2.0 + (max(medial) if medial else 0.0) + g["t"] + 1.0
        shell = (d0 > -inner) & (d0 < 4.0 * v)
        Xb, Yb, Zb = np.broadcast_arrays(X, Y, Z)
        az = np.where(Zb < 0, p["cer_az_bot"], p["cer_az_top"])
        axb = np.broadcast_to(ax_y, Xb.shape)
        for side, sel in (("right", shell & (Xb >= 0)), ("left", shell & (Xb < 0))):
            if not sulci[side]:
                continue
            ux = np.abs(Xb[sel]) / axb[sel]
            uy = Yb[sel] / p["cer_ay"]
            uz = Zb[sel] / az[sel]
            norm = np.sqrt(ux * ux + uy * uy + uz * uz) + 1e-6
            # fade the grooves out deep inside and far outside so that f stays continuous
            ds = d0[sel]
            w = smoothstep((ds + inner) / (3.0 * v)) * smoothstep((4.0 * v - ds) / (2.0 * v))
            # lateral grooves stay clear of the medial face and its grooves (no meeting under a bridge)
            w = w * smoothstep((np.abs(Xb[sel]) - x_mid) / 3.0)
            f[sel] += w * cortex.groove_depth(ux / norm, uy / norm, uz / norm, sulci[side])
    yn, zn = Y / p["cer_ay"], Z / p["cer_az_top"]
    gm_r = cortex.medial_groove_depth(yn, zn, p["cer_ay"], p["cer_az_top"], sulci["medial_right"])
    gm_l = cortex.medial_groove_depth(yn, zn, p["cer_ay"], p["cer_az_top"], sulci["medial_left"])
    e2 = core_2d(Y, Z, p, g)
    # medial face: |x| = fiss/2 + groove(y, z), as a distance normalised by the groove's slope
    slabs = []
    for gm in (gm_r, gm_l):
        gm = np.where(e2, np.float32(0.0), gm)
        gy, gz = np.gradient(gm[0], v) if gm.shape[1] > 1 and gm.shape[2] > 1 else (0.0 * gm[0], 0.0 * gm[0])
        slabs.append((g["fiss"] / 2.0 + gm - np.abs(X)) / np.sqrt(1.0 + gy * gy + gz * gz)[None])
    slab = np.where(X >= 0, slabs[0], slabs[1])
    # K: the midline strip under the callosum, plus a box around the brainstem's way into the base;
    # both are bounded by vertical planes that cut the cortical sheet cleanly
    base = (np.abs(X) < g["base_w"]) & (Y > g["base_y"][0]) & (Y < g["base_y"][1]) & (Z < g["base_z"])
    core = e2 & (np.abs(X) < g["kw"])
    near_stem = brainstem_sd(X, Y, Z, p, g) < g["t"] + 2.0 * v
    K = core | base
    # no fissure in the core (nor where the brainstem enters); no cortex in the core nor the base box
    d = np.where(core | (base & near_stem), f, np.maximum(f, slab))
    notch = g["gap"] - cerebellum_sd(X, Y, Z, p)
    d = np.maximum(d, notch)
    # CSF that only the sulcal grooves put there (not the fissure, not the cerebellar notch)
    sulcal = (d > 0) & (d0 <= 0) & (np.abs(X) > g["fiss"] / 2.0 + 0.5 * v) & (notch < 0)
    return d.astype(np.float32), K, sulcal


def build(p: dict, sulci: dict, xs, ys, zs, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """GENERATION labels (uint8, shape (nx, ny, nz)) and the cerebral distance field (float32, mm).

    The distance field (``d`` of :func:`cerebrum`, +inf outside its box) is returned for the image
    model (cortical depth, subplate).
    """
    g = derived(p, voxel)
    X, Y, Z = open_grid(xs, ys, zs)
    shape = (xs.size, ys.size, zs.size)
    lab = np.full(shape, 12, dtype=np.uint8)
    # surroundings: amniotic fluid, fetal body, scalp, skull
    amn = ((X - p["amn_x"]) / p["amn_ax"]) ** 2 + ((Y - p["amn_y"]) / p["amn_ay"]) ** 2 \
        + ((Z - p["amn_z"]) / p["amn_az"]) ** 2 <= 1.0
    lab[np.broadcast_to(amn, shape)] = 11
    body = ((X / p["body_ax"]) ** 2 + ((Y - p["body_y"]) / p["body_ay"]) ** 2
            + ((Z - p["body_z"]) / p["body_az"]) ** 2) <= 1.0
    lab[np.broadcast_to(body, shape)] = 10
    ic = np.asarray(intracranial_sd(X, Y, Z, p, g, cerebellum=False), dtype=np.float32)
    ic = np.broadcast_to(ic, shape).copy()
    # the CSF layer around the cerebellum, on the cerebellum's box only
    cb_half = p["cb_hx"] + p["cb_ax"] + g["pf"] + g["skull"] + g["scalp"] + 2.0 * voxel
    cb_lo = (-cb_half, p["cb_y"] - cb_half, p["cb_z"] - cb_half)
    cb_hi = (cb_half, p["cb_y"] + cb_half, p["cb_z"] + cb_half)
    cbs = box_slices(xs, ys, zs, cb_lo, cb_hi)
    Xb, Yb, Zb = open_grid(xs[cbs[0]], ys[cbs[1]], zs[cbs[2]])
    cb_sd = cerebellum_sd(Xb, Yb, Zb, p)
    ic[cbs] = np.minimum(ic[cbs], cb_sd - g["pf"])
    lab[ic <= g["skull"] + g["scalp"]] = 10
    lab[ic <= g["skull"]] = 9
    lab[ic <= 0] = 1
    # cerebrum on its bounding box
    m = 2.0 * voxel
    lo = (-p["cer_ax"] - m, -p["cer_ay"] - m, -p["cer_az_bot"] - m)
    hi = (p["cer_ax"] + m, p["cer_ay"] + m, p["cer_az_top"] + m)
    sl = box_slices(xs, ys, zs, lo, hi)
    Xc, Yc, Zc = open_grid(xs[sl[0]], ys[sl[1]], zs[sl[2]])
    d, K, sulcal = cerebrum(Xc, Yc, Zc, p, g, sulci)
    sub = lab[sl]
    brain = (d <= 0) & (sub == 1)
    cube = np.ones((3, 3, 3), dtype=bool)
    sulcal &= sub == 1
    if sulcal.any():
        # sulcal CSF narrower than 3 voxels closes up (the banks fuse): no pinched CSF tubes
        csf = (sub == 1) & ~brain
        brain |= sulcal & ~ndi.binary_opening(csf, structure=cube)
    # exact depth below the voxelised surface (the brainstem counts as inside, so deep grey matter
    # may reach it): the cortex is never thinner than t (>= 1.8 voxels), so no white-matter voxel
    # touches CSF, not even through a corner
    stem = brainstem_sd(Xc, Yc, Zc, p, g) <= 0
    depth = ndi.distance_transform_edt(brain | stem, sampling=voxel).astype(np.float32) - 0.5 * voxel
    band = brain & (depth < g["t"]) & ~K
    # white matter narrower than 3 voxels under the cortex (thin gyral cores) becomes cortex
    wm = brain & ~band
    band |= wm & ~K & (depth < g["t"] + 3.0 * voxel) & ~ndi.binary_opening(wm, structure=cube)
    sub[brain] = 3
    sub[band] = 2
    if p["cc_present"] > 0.5:
        sub[deep.callosum(Xc, Yc, Zc, p, g) & brain] = 8
    dfull = np.full(shape, np.inf, dtype=np.float32)
    dfull[sl] = d
    dist = np.full(shape, np.inf, dtype=np.float32)
    dist[sl] = np.where(brain, -depth, np.maximum(d, 0.5 * voxel))
    # cerebellum and brainstem (inside the skull; the cord beyond the foramen magnum is soft tissue)
    cb = np.zeros(shape, dtype=bool)
    cb[cbs] = (cb_sd <= 0) & ~((Yb >= g["notch_y"]) & (dfull[cbs] < g["gap"]))
    lab[cb & (ic <= 0)] = 5
    a, b_ = g["bs_a"], g["bs_b"]
    r = max(p["bs_radius"], p["pons_ax"], p["pons_ay"], p["pons_az"]) + voxel
    bss = box_slices(xs, ys, zs, np.minimum(a, b_) - r, np.maximum(a, b_) + r)
    bs = np.zeros(shape, dtype=bool)
    bs[bss] = brainstem_sd(*open_grid(xs[bss[0]], ys[bss[1]], zs[bss[2]]), p, g) <= 0
    lab[bs & (ic <= g["skull"] + 0.5 * voxel) & (lab != 5)] = 7
    lab[bs & (ic > g["skull"] + 0.5 * voxel)] = 10
    lab[bs & (lab == 5)] = 7
    # deep grey matter and ventricles, kept off the cortex (all inside the cerebrum's box)
    _deep_structures(lab[sl], dist[sl], (Xc, Yc, Zc), p, g, voxel)
    return lab, dist


def _deep_structures(lab: np.ndarray, dist: np.ndarray, grid_xyz, p: dict, g: dict, voxel: float) -> None:
    """Write deep grey matter (6) and ventricles (4) into ``lab`` (a view of the cerebrum's box)."""
    shape = lab.shape
    deep_ok = dist < -(g["t"] + 2.5 * voxel)
    lat, third = deep.ventricles(*grid_xyz, p, g, parts=True)
    lat = np.broadcast_to(lat, shape) & deep_ok
    # deep grey matter keeps two voxels of white matter from the lateral ventricles: it touches the
    # ventricular system only around the third ventricle, so no loop forms through white matter
    near = np.zeros(shape, dtype=bool)
    box = _bbox(lat, 3)
    if box is not None:
        near[box] = ndi.binary_dilation(lat[box], structure=np.ones((3, 3, 3), bool), iterations=2)
    block, side = deep.deep_grey(*grid_xyz, p, g, parts=True)
    side = np.broadcast_to(side, shape) & deep_ok & ~near
    box = _bbox(side, 2)
    if box is not None:  # squeezed basal ganglia: no sliver thinner than 3 voxels (it would make loops)
        side[box] = ndi.binary_opening(side[box], structure=np.ones((3, 3, 3), bool))
    lab[(np.broadcast_to(block, shape) & deep_ok & ~near) | side] = 6
    lab[lat] = 4
    lab[np.broadcast_to(third, shape) & deep_ok] = 4


def _bbox(mask: np.ndarray, margin: int):
    idx = [np.nonzero(np.any(mask, axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3)]
    if any(i.size == 0 for i in idx):
        return None
    return tuple(slice(max(int(i[0]) - margin, 0), min(int(i[-1]) + 1 + margin, n)) for i, n in zip(idx, mask.shape))
