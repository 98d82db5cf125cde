"""Deep structures of the phantom: corpus callosum, deep grey matter, ventricles.

All functions take an open grid ``(X, Y, Z)`` in world mm, the anatomy ``a`` (:class:`~fetalseg.phantom.params.Anatomy`)
and the voxel-dependent geometry ``g`` of :func:`fetalseg.phantom.labelmap.derived`, and return boolean
masks broadcast to the grid shape.

The ventricular system is built to be one contractible piece: two C-shaped lateral ventricles
(frontal horn, body, atrium, temporal horn, plus an occipital horn off the atrium), each reaching
the midline only through the foramen of Monro, a short tube across the septum that also crosses
the midline slab of the third ventricle. The lateral ventricles keep a septum of at least two
voxels from the third ventricle, so these three pieces touch in exactly the tube. Under the
callosum the third ventricle continues upwards as the cavum septi pellucidi (:func:`cavum`).
"""

from __future__ import annotations

import numpy as np

from .params import Anatomy, Geometry
from .shapes import ellipsoid_sd, inside_ellipsoid, smooth_min, smoothstep

PHI0, PHI1, PHI_MONRO = 20.0, 295.0, 62.0
# callosal thickness along the arch: angle (degrees from the front pole, over the top), then the
# thickness as a multiple of the genu/splenium thickness plus a multiple of the body thickness
CC_PROFILE = (
    (-38.0, -25.0, 0.0, 25.0, 50.0, 90.0, 130.0, 150.0, 168.0, 182.0, 196.0, 203.0),
    (0.0, 0.0, 0.95, 0.45, 0.0, 0.0, 0.0, 0.0, 1.05, 1.15, 0.9, 0.0),  # x cc_ends
    (0.8, 1.0, 0.0, 0.5, 1.05, 1.0, 0.85, 0.8, 0.0, 0.0, 0.0, 0.9),  # x cc_body
)
_KNOTS = np.array([PHI0, 45.0, 90.0, 150.0, 180.0, 220.0, 260.0, PHI1])


def callosum(X, Y, Z, a: Anatomy, g: Geometry):
    """Corpus callosum: a curved band under the outer midsagittal ellipse, |x| < half_width.

    The band follows the ellipse ``((y - y0) / ly)^2 + ((z - z0) / lz)^2 = 1`` inwards by a thickness
    that changes along it (:data:`CC_PROFILE`): the rostrum, a thin hook under the front; the genu,
    thick, at the front pole; the thin body and isthmus; the splenium, a thick bulb at the back pole,
    hanging a little below ``z0``. Its anterior-posterior extent at ``x = 0`` is ``2 * ly`` (the
    built LCC).
    """
    phi, depth, thick = _callosal_frame(Y, Z, a, g)
    knots = CC_PROFILE[0]
    band = (depth >= 0.0) & (depth <= thick) & (phi >= knots[0]) & (phi <= knots[-1])
    return band & (np.abs(X) <= a.callosum.half_width)


def _callosal_frame(Y, Z, a: Anatomy, g: Geometry):
    """Angle ``phi`` along the callosal arch (degrees from the front pole, over the top; the rostrum at
    small negative angles), depth (mm) below its outer ellipse (negative outside) and the callosal
    thickness (mm) at that angle."""
    cc = a.callosum
    yn, zn = (Y - cc.y) / cc.ly, (Z - cc.z) / cc.lz
    rho = np.sqrt(yn * yn + zn * zn)
    phi = np.degrees(np.arctan2(zn, yn)) % 360.0
    phi = np.where(phi > 270.0, phi - 360.0, phi)
    rad = np.radians(phi)
    R = np.sqrt((cc.ly * np.cos(rad)) ** 2 + (cc.lz * np.sin(rad)) ** 2)
    knots, ends, body = CC_PROFILE
    thick = np.interp(phi, knots, np.asarray(ends) * g.cc_ends + np.asarray(body) * g.cc_body)
    return phi, (1.0 - rho) * R, thick


def cavum(X, Y, Z, a: Anatomy, g: Geometry, w3: float, floor: float):
    """Cavum septi pellucidi (and vergae): the midline CSF slab ``|x| < w3`` under the callosum, at least
    ``fornix`` (2 voxels) of white matter below its lower surface (the septal leaflets and the fornix
    are the white matter on either side of it and over it), down to ``floor`` (mm), where it meets the
    third ventricle. Empty without a callosum."""
    if not a.callosum.present:
        return np.zeros(np.broadcast_shapes(np.shape(X), np.shape(Y), np.shape(Z)), dtype=bool)
    _, depth, thick = _callosal_frame(Y, Z, a, g)
    fornix = max(a.callosum.fornix, 2.0 * g.v)
    return (np.abs(X) < w3) & (depth >= thick + fornix) & (Z >= floor)


def deep_grey_sd(X, Y, Z, a: Anatomy, g: Geometry):
    """Approximate signed distance (mm, negative inside) to the deep grey matter: one mass per
    hemisphere, the two joined across the midline.

    Each hemisphere's mass is the thalamus (the half of one ellipsoid across the midline, so the two
    thalami join below the third ventricle) smoothly merged with the striatum (caudate head and
    lentiform nucleus: an ellipsoid lateral to and in front of the thalamus, reaching forwards beside
    the frontal horn), with no crease between them. The internal capsule is then cut into it from
    above (:func:`internal_capsule`).
    """
    d = a.deep
    block = ellipsoid_sd(X, Y, Z, (0.0, d.thal_y, d.thal_z), (d.thal_x + d.thal_ax, d.thal_ay, d.thal_az))
    k = 0.35 * d.bg_ax
    side = ellipsoid_sd(np.abs(X), Y, Z, (d.bg_x, d.bg_y, d.bg_z), (d.bg_ax, d.bg_ay, d.bg_az))
    return smooth_min(block, side, k)


def internal_capsule(X, Y, Z, a: Anatomy, g: Geometry):
    """Internal capsule: a curved white-matter sheet on the medial face of the lentiform nucleus, cut
    into the deep grey mass from above down to ``capsule_floor`` (a fraction of the lentiform's
    height), between the lentiform nucleus and the thalamus and caudate.

    The sheet is the shell ``0 < sd_lentiform <= w`` (``w`` at least 2 voxels) on the medial side of
    the lentiform's centre; below its floor the lentiform and the thalamus stay one mass, so the cut is
    a slot open upwards: the deep grey matter keeps no handle and the capsule joins the white matter
    above it.
    """
    d = a.deep
    v = g.v
    w = max(d.capsule_width, 2.0 * v)
    lent = ellipsoid_sd(np.abs(X), Y, Z, (d.bg_x, d.bg_y, d.bg_z), (d.bg_ax, d.bg_ay, d.bg_az))
    floor = d.bg_z + d.bg_az * (1.0 - 2.0 * d.capsule_depth)
    return (lent > 0) & (lent <= w) & (np.abs(X) < d.bg_x) & (Z >= floor)


def deep_grey(X, Y, Z, a: Anatomy, g: Geometry):
    """Deep grey matter mask: :func:`deep_grey_sd` <= 0 without the internal capsule."""
    m = deep_grey_sd(X, Y, Z, a, g) <= 0
    if a.deep.capsule_depth > 0:
        m &= ~internal_capsule(X, Y, Z, a, g)
    return m


def _knot_widths(a: Anatomy, g: Geometry):
    """Centre offset ``xv`` and half-widths (lateral ``wx``, in-plane ``wr``) at the knot angles, and
    the third ventricle's half-width ``w3``, before the space constraints."""
    s = a.cerebrum.ax / 29.0
    vn = a.ventricles
    vf, vb, va, vt = vn.x_front, vn.x_body, vn.x_atrium, vn.x_temporal
    aw = vn.atrial_width / 2.0
    fw, bw, bh = vn.front_width, vn.body_width, vn.body_height
    tw = vn.temporal_width if vn.temporal_width is not None else 3.3 * s
    xv = np.array([vf, vf, vb, 0.5 * (vb + va), va, va + 0.5, vt, vt])
    wx = np.array([0.7 * fw, fw, bw, 0.5 * (bw + aw), aw, 0.8 * aw, tw, 0.8 * tw])
    ah = vn.atrium_height if vn.atrium_height is not None else 2.4 * aw
    wr = np.array([0.9 * bh, bh, bh, 0.5 * (bh + ah), ah, 0.8 * ah, 0.8 * tw, 0.7 * tw])
    v = g.v
    w3 = max(vn.third_width / 2.0, 0.75 * v)
    wx = np.maximum(wx, 0.9 * v)
    wr = np.maximum(wr, 0.9 * v)
    xv = np.maximum(xv, wx + w3 + 2.0 * v + 0.3)
    return xv, wx, wr, w3


def _profiles(a: Anatomy, g: Geometry):
    """Centre offset ``xv`` and half-widths (lateral ``wx``, in-plane ``wr``) at the knot angles."""
    xv, wx, wr, w3 = _knot_widths(a, g)
    v, d, vn, cer = g.v, a.deep, a.ventricles, a.cerebrum
    # the posterior limb (body to atrium) passes lateral to the thalamic block, never through it
    bx_max = d.thal_x + d.thal_ax
    for k in (3, 4, 5):
        ang = np.radians(_KNOTS[k])
        yk = vn.yc + vn.ry * np.cos(ang)
        y_near = np.clip(d.thal_y, yk - wr[k], yk + wr[k])
        bx = bx_max * np.sqrt(max(0.0, 1.0 - ((y_near - d.thal_y) / d.thal_ay) ** 2))
        xv[k] = max(xv[k], bx + wx[k] + 2.0 * v)
    # ... and stays clear of the cortex (folds included) laterally
    R = (cer.ax + cer.ay + cer.az_top) / 3.0
    margin = g.t + 2.5 * v + 0.06 * R + 1.0
    for k in range(len(_KNOTS)):
        ang = np.radians(_KNOTS[k])
        yk = vn.yc + vn.ry * np.cos(ang)
        rz = vn.rz if np.sin(ang) >= 0 else vn.rz_bottom
        zk = vn.zc + rz * np.sin(ang)
        az = cer.az_top if zk >= 0 else cer.az_bot
        half = cer.ax * np.sqrt(max(0.0, 1.0 - (yk / cer.ay) ** 2 - (zk / az) ** 2))
        septum = w3 + 2.0 * v + 0.3
        wx[k] = min(wx[k], max(0.5 * (half - margin - septum), 0.9 * v))  # a dilated horn fills the space
        xv[k] = max(min(xv[k], half - margin - wx[k]), wx[k] + septum)
    return xv, wx, wr, w3


def ventricles(X, Y, Z, a: Anatomy, g: Geometry, parts: bool = False):
    """Ventricular system mask (lateral ventricles, foramina of Monro, third ventricle).

    With ``parts=True`` returns ``(lateral, third)``: the lateral ventricles with the foramina, and
    the third ventricle with its channel up to the foramina.
    """
    v, vn = g.v, a.ventricles
    xv_k, wx_k, wr_k, w3 = _profiles(a, g)
    yc, zc, ry, rz = vn.yc, vn.zc, vn.ry, vn.rz
    yn = (Y - yc) / ry
    rzz = np.where(Z < zc, vn.rz_bottom, rz)  # the lower limb of the C is flatter
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
        L = vn.occ_horn_length
        if L > 0.5:
            m |= inside_ellipsoid(X, Y, Z, (sign * (xv_k[4] + 0.5), yc - ry - 0.5 * L, zc + 0.3 * wr_k[4]),
                                  (0.6 * wx_k[4], 0.5 * L + 0.5 * wr_k[4], 0.55 * wr_k[4]))
    # foramina of Monro: one tube along x through the septum at the frontal horn / body junction
    ang = np.radians(PHI_MONRO)
    ym, zm = yc + ry * np.cos(ang), zc + rz * np.sin(ang)
    xm = float(np.interp(PHI_MONRO, _KNOTS, xv_k))
    rm = max(1.3 * a.cerebrum.ax / 29.0, 1.2 * v)
    m |= (np.abs(X) <= xm) & ((Y - ym) ** 2 + (Z - zm) ** 2 <= rm * rm)
    third = _third_ventricle(X, Y, Z, a, g, w3, (ym, zm), rm)
    if parts:
        return m, third
    return m | third


def _third_ventricle(X, Y, Z, a: Anatomy, g: Geometry, w3: float, monro, rm: float):
    """Third ventricle: a midline slab over the thalami (half-width ``w3``), joined to the foramina of
    Monro (centre ``monro`` = (y, z), radius ``rm``) by a short channel.

    A box-shaped cleft through the thalamic block, from just above its floor (the hypothalamus
    stays deep grey) to above its top and past its front and back: the thalami keep a thick floor
    between them and no thin remnant that could join them twice.
    """
    v, d = g.v, a.deep
    floor = d.thal_z - 0.45 * d.thal_az + a.ventricles.v3_raise
    top = d.thal_z + d.thal_az + max(1.0, 1.5 * v)
    half = d.thal_ay + max(1.0, 1.5 * v)
    # the floor rises towards the front and back (a U in the midsagittal plane) but stays below the
    # top everywhere: the cut is still open upwards along its whole length
    yn = (Y - d.thal_y) / half
    e3 = (Z >= floor + 0.55 * (top - floor) * yn * yn) & (Z <= top) & (np.abs(yn) <= 1.0)
    # the channel leaves the third ventricle through its top (above the thalamic block), so the
    # cut it makes in the deep grey matter is one slot open upwards, never a tunnel
    y0, z0 = d.thal_y, top
    cy, cz = monro[0] - y0, monro[1] - z0
    L2 = cy * cy + cz * cz
    t = np.clip(((Y - y0) * cy + (Z - z0) * cz) / L2, 0.0, 1.0)
    ch = (Y - y0 - t * cy) ** 2 + (Z - z0 - t * cz) ** 2 <= max(rm, 1.2 * v) ** 2
    cav = cavum(X, Y, Z, a, g, w3, top - 1.0 * v) & (np.abs(Y - d.thal_y) <= half) | \
        cavum(X, Y, Z, a, g, w3, max(top - 1.0 * v, a.callosum.z - 0.3 * a.callosum.lz))
    return (np.abs(X) < w3) & (e3 | ch | cav)


def atrium_centre(a: Anatomy, g: Geometry, side: float = 1.0) -> tuple[float, float, float]:
    """World position (mm) of the atrium's centre on the given side (+1 right, -1 left)."""
    xv_k, _, _, _ = _profiles(a, g)
    vn = a.ventricles
    return (side * float(xv_k[4]), vn.yc - vn.ry, vn.zc)
