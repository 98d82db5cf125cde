"""Deep structures of the phantom: corpus callosum, thalami and basal ganglia, ventricles.

All functions take an open grid ``(X, Y, Z)`` in world mm, the anatomy parameters ``p`` and the
voxel-dependent geometry ``g`` of :func:`fetalseg.phantom.labelmap.derived`, and return boolean
masks broadcast to the grid shape.

The ventricular system is built to be one contractible piece: two C-shaped lateral ventricles
(frontal horn, body, atrium, temporal horn, plus an occipital horn off the atrium), each reaching
the midline only through the foramen of Monro, a short tube across the septum that also crosses
the midline slab of the third ventricle. The lateral ventricles keep a septum of at least two
voxels from the third ventricle, so these three pieces touch in exactly the tube.
"""

from __future__ import annotations

import numpy as np

from .shapes import inside_ellipsoid, smoothstep

PHI0, PHI1, PHI_MONRO = 20.0, 295.0, 62.0
_KNOTS = np.array([PHI0, 45.0, 90.0, 150.0, 180.0, 220.0, 260.0, PHI1])


def callosum(X, Y, Z, p: dict, g: dict):
    """Corpus callosum: the band between two concentric midsagittal ellipses, |x| < cc_half_width.

    Its anterior-posterior extent at ``x = 0`` is ``2 * cc_ly`` (the built LCC).
    """
    yc, zc, ly, lz = p["cc_y"], p["cc_z"], p["cc_ly"], p["cc_lz"]
    outer = ((Y - yc) / ly) ** 2 + ((Z - zc) / lz) ** 2 <= 1.0
    inner = ((Y - yc) / (ly - g["cc_ends"])) ** 2 + ((Z - zc) / (lz - g["cc_body"])) ** 2 <= 1.0
    band = outer & ~inner & (Z >= zc - p["cc_drop"]) & (np.abs(X) <= p["cc_half_width"])
    return band


def deep_grey(X, Y, Z, p: dict, g: dict, parts: bool = False):
    """Deep grey matter: one diencephalic block (both thalami), basal ganglia, and bridges.

    The two thalami are a single ellipsoid across the midline; the third ventricle is later cut
    into it from above as a slot, so the thalami stay joined below it (hypothalamus). Each basal
    ganglia ellipsoid joins the block through one bridge under the ventricular body. The union is a
    chain of convex pieces, each meeting only its neighbours: contractible. With ``parts=True``
    returns ``(block, lateral)``: the thalamic block, and the basal ganglia with their bridges.
    """
    v = g["v"]
    block = inside_ellipsoid(X, Y, Z, (0.0, p["thal_y"], p["thal_z"]),
                             (p["thal_x"] + p["thal_ax"], p["thal_ay"], p["thal_az"]))
    m = np.zeros(np.broadcast_shapes(np.shape(X), np.shape(Y), np.shape(Z)), dtype=bool)
    ba = (p["bg_ax"], p["bg_ay"], p["bg_az"])
    for sign in (1.0, -1.0):
        m = m | inside_ellipsoid(X, Y, Z, (sign * p["bg_x"], p["bg_y"], p["bg_z"]), ba)
        half = 0.5 * (p["bg_x"] - p["thal_x"])
        m = m | inside_ellipsoid(X, Y, Z, (sign * (p["thal_x"] + half), p["thal_y"] + 0.5 * p["thal_ay"],
                                           p["thal_z"] - 0.1 * p["thal_az"]),
                                 (half + 1.0, 0.3 * p["thal_ay"], max(0.35 * p["thal_az"], 1.6 * v)))
    if parts:
        return block, m
    return block | m


def _profiles(p: dict, g: dict):
    """Centre offset ``xv`` and half-widths (lateral ``wx``, in-plane ``wr``) at the knot angles."""
    s = p["cer_ax"] / 29.0
    vf, vb, va, vt = p["vent_x_front"], p["vent_x_body"], p["vent_x_atrium"], p["vent_x_temporal"]
    aw = p["atrial_width"] / 2.0
    fw, bw, bh = p["vent_front_width"], p["vent_body_width"], p["vent_body_height"]
    tw = p.get("vent_temporal_width", 3.3 * s)
    xv = np.array([vf, vf, vb, 0.5 * (vb + va), va, va + 0.5, vt, vt])
    wx = np.array([0.7 * fw, fw, bw, 0.5 * (bw + aw), aw, 0.8 * aw, tw, 0.8 * tw])
    ah = p.get("atrium_height", 2.4 * aw)
    wr = np.array([0.9 * bh, bh, bh, 0.5 * (bh + ah), ah, 0.8 * ah, 0.8 * tw, 0.7 * tw])
    v = g["v"]
    w3 = max(p["third_vent_width"] / 2.0, 0.75 * v)
    wx = np.maximum(wx, 0.9 * v)
    wr = np.maximum(wr, 0.9 * v)
    xv = np.maximum(xv, wx + w3 + 2.0 * v + 0.3)
    # the posterior limb (body to atrium) passes lateral to the thalamic block, never through it
    bx_max = p["thal_x"] + p["thal_ax"]
    for k in (3, 4, 5):
        a = np.radians(_KNOTS[k])
        yk = p["vent_yc"] + p["vent_ry"] * np.cos(a)
        y_near = np.clip(p["thal_y"], yk - wr[k], yk + wr[k])
        bx = bx_max * np.sqrt(max(0.0, 1.0 - ((y_near - p["thal_y"]) / p["thal_ay"]) ** 2))
        xv[k] = max(xv[k], bx + wx[k] + 2.0 * v)
    # ... and stays clear of the cortex (folds included) laterally
    R = (p["cer_ax"] + p["cer_ay"] + p["cer_az_top"]) / 3.0
    margin = g["t"] + 2.5 * v + 0.06 * R + 1.0
    for k in range(len(_KNOTS)):
        a = np.radians(_KNOTS[k])
        yk = p["vent_yc"] + p["vent_ry"] * np.cos(a)
        rz = p["vent_rz"] if np.sin(a) >= 0 else p.get("vent_rz_bottom", p["vent_rz"])
        zk = p["vent_zc"] + rz * np.sin(a)
        az = p["cer_az_top"] if zk >= 0 else p["cer_az_bot"]
        half = p["cer_ax"] * np.sqrt(max(0.0, 1.0 - (yk / p["cer_ay"]) ** 2 - (zk / az) ** 2))
        septum = w3 + 2.0 * v + 0.3
        wx[k] = min(wx[k], max(0.5 * (half - margin - septum), 0.9 * v))  # a dilated horn fills the space
        xv[k] = max(min(xv[k], half - margin - wx[k]), wx[k] + septum)
    return xv, wx, wr, w3


def ventricles(X, Y, Z, p: dict, g: dict, parts: bool = False):
    """Ventricular system mask (lateral ventricles, foramina of Monro, third ventricle).

    With ``parts=True`` returns ``(lateral, third)``: the lateral ventricles with the foramina, and
    the third ventricle with its channel up to the foramina.
    """
    v = g["v"]
    xv_k, wx_k, wr_k, w3 = _profiles(p, g)
    yc, zc, ry, rz = p["vent_yc"], p["vent_zc"], p["vent_ry"], p["vent_rz"]
    yn = (Y - yc) / ry
    rzz = np.where(Z < zc, p.get("vent_rz_bottom", rz), rz)  # the lower limb of the C is flatter
    zn = (Z - zc) / rzz
    phi = np.degrees(np.arctan2(zn, yn)) % 360.0
    rho = np.sqrt(yn * yn + zn * zn)
    rad = np.radians(phi)
    R = np.sqrt((ry * np.cos(rad)) ** 2 + (rzz * np.sin(rad)) ** 2)
    radial = (rho - 1.0) * R
    taper = np.sqrt(smoothstep((phi - PHI0) / 15.0) * smoothstep((PHI1 - phi) / 15.0))
    xv = np.interp(phi, _KNOTS, xv_k)
    wx = np.interp(phi, _KNOTS, wx_k) * taper + 1e-3
    wr = np.interp(phi, _KNOTS, wr_k) * taper + 1e-3
    on_arc = (phi >= PHI0) & (phi <= PHI1)
    m = np.zeros(np.broadcast_shapes(np.shape(X), np.shape(phi)), dtype=bool)
    for sign in (1.0, -1.0):
        m |= on_arc & (((sign * X - xv) / wx) ** 2 + (radial / wr) ** 2 <= 1.0)
        # occipital horn: from the atrium straight back
        L = p["occ_horn_length"]
        if L > 0.5:
            m |= inside_ellipsoid(X, Y, Z, (sign * (xv_k[4] + 0.5), yc - ry - 0.5 * L, zc + 0.3 * wr_k[4]),
                                  (0.6 * wx_k[4], 0.5 * L + 0.5 * wr_k[4], 0.55 * wr_k[4]))
    # foramina of Monro: one tube along x through the septum at the frontal horn / body junction
    a = np.radians(PHI_MONRO)
    ym, zm = yc + ry * np.cos(a), zc + rz * np.sin(a)
    xm = float(np.interp(PHI_MONRO, _KNOTS, xv_k))
    rm = max(1.3 * p["cer_ax"] / 29.0, 1.2 * v)
    m |= (np.abs(X) <= xm) & ((Y - ym) ** 2 + (Z - zm) ** 2 <= rm * rm)
    # third ventricle: midline slab over the thalami, joined to the tube by a short channel
    # a box-shaped cleft through the thalamic block, from just above its floor (the hypothalamus
    # stays deep grey) to above its top and past its front and back: the thalami keep a thick floor
    # between them and no thin remnant that could join them twice
    floor = p["thal_z"] - 0.45 * p["thal_az"] + p.get("v3_raise", 0.0)
    tz = p["thal_z"] + 0.35 * p["thal_az"] + p.get("v3_raise", 0.0)
    top = p["thal_z"] + p["thal_az"] + max(1.0, 1.5 * v)
    e3 = (Z >= floor) & (Z <= top) & (np.abs(Y - p["thal_y"]) <= p["thal_ay"] + max(1.0, 1.5 * v))
    # the channel leaves the third ventricle through its top (above the thalamic block), so the
    # cut it makes in the deep grey matter is one slot open upwards, never a tunnel
    y0, z0 = p["thal_y"], top
    cy, cz = ym - y0, zm - z0
    L2 = cy * cy + cz * cz
    t = np.clip(((Y - y0) * cy + (Z - z0) * cz) / L2, 0.0, 1.0)
    ch = (Y - y0 - t * cy) ** 2 + (Z - z0 - t * cz) ** 2 <= max(rm, 1.2 * v) ** 2
    third = (np.abs(X) < w3) & (e3 | ch)
    if parts:
        return m, third
    return m | third


def atrium_centre(p: dict, g: dict, side: float = 1.0) -> tuple[float, float, float]:
    """World position (mm) of the atrium's centre on the given side (+1 right, -1 left)."""
    xv_k, _, _, _ = _profiles(p, g)
    return (side * float(xv_k[4]), p["vent_yc"] - p["vent_ry"], p["vent_zc"])
