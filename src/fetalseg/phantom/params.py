"""Typed, frozen anatomy parameters of a phantom, one dataclass per anatomical part.

All lengths are mm in the world frame of :mod:`fetalseg.phantom.anatomy` (RAS+, origin at the
centre of the cerebrum): ``x`` right, ``y`` anterior, ``z`` superior. Half-widths and semi-axes
are named ``a*`` (``ax`` along x, ...); centres by their coordinate (``y``, ``z``). A part is
changed with :func:`dataclasses.replace` (pathologies, the width correction of the folded brain),
never in place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Sizes:
    """One value per biometry measure (:data:`fetalseg.norms.MEASURES`): z-scores or target sizes (mm)."""

    sBIP: float
    bBIP: float
    TCD: float
    HV: float
    LCC: float


@dataclass(frozen=True)
class Cerebrum:
    """Egg-shaped ellipsoid: semi-axes (upper and lower vertical ones differ) and frontal taper."""

    ax: float
    ay: float
    az_top: float
    az_bot: float
    front_taper: float  # fractional narrowing of ``ax`` at the frontal pole


@dataclass(frozen=True)
class Coverings:
    """External CSF (``ecsf`` over the convexity, ``pf_csf`` around the cerebellum), skull, scalp."""

    ecsf: float
    skull: float
    scalp: float
    pf_csf: float


@dataclass(frozen=True)
class Cortex:
    """Cortical thickness, interhemispheric fissure width, CSF gap between cerebrum and cerebellum."""

    thickness: float
    fissure_width: float
    gap: float


@dataclass(frozen=True)
class Callosum:
    """Corpus callosum: band between two concentric midsagittal ellipses (outer semi-axes ``ly``, ``lz``).

    ``present`` is False in agenesis, where ``acc_roof`` (mm above ``z``) bounds the midline core.
    """

    present: bool
    ly: float
    lz: float
    y: float
    z: float
    thick_ends: float
    thick_body: float
    half_width: float  # lateral half-extent
    acc_roof: float = 0.0
    fornix: float = 0.0  # white matter (fornix) between the callosum and the cavum septi pellucidi under it


@dataclass(frozen=True)
class Ventricles:
    """Lateral ventricles (a C-shaped tube on the ellipse ``(yc, zc, ry, rz)``) and the third ventricle.

    ``x_*`` are the lateral offsets of the tube's centre at the frontal horn, body, atrium and
    temporal horn; ``temporal_width`` and ``atrium_height`` default (None) to fractions of the head
    scale and the atrial width; ``v3_raise`` lifts the third ventricle's floor (agenesis).
    """

    body_width: float
    body_height: float
    front_width: float
    atrial_width: float
    occ_horn_length: float
    third_width: float
    yc: float
    zc: float
    ry: float
    rz: float
    rz_bottom: float
    x_front: float
    x_body: float
    x_atrium: float
    x_temporal: float
    temporal_width: float | None = None
    atrium_height: float | None = None
    v3_raise: float = 0.0


@dataclass(frozen=True)
class DeepGrey:
    """Thalami (one ellipsoid across the midline, centre offset ``thal_x``) merged with the striatum
    (caudate head and lentiform nucleus, one ellipsoid per side) into one mass per hemisphere, with the
    internal capsule cut into it from above."""

    thal_ax: float
    thal_ay: float
    thal_az: float
    thal_x: float
    thal_y: float
    thal_z: float
    bg_ax: float
    bg_ay: float
    bg_az: float
    bg_x: float
    bg_y: float
    bg_z: float
    capsule_width: float = 0.0  # internal capsule (white matter between lentiform and thalamus), mm
    capsule_depth: float = 0.0  # ... cut from the top down this fraction of the lentiform's height


@dataclass(frozen=True)
class Brainstem:
    """Tilted capsule (radius, tilt from vertical in degrees, top centre) and the pons ellipsoid."""

    radius: float
    tilt_deg: float
    top_y: float
    top_z: float
    pons_ax: float
    pons_ay: float
    pons_az: float
    pons_y: float
    pons_z: float
    medulla_drop: float = 0.0  # how far below the posterior fossa the medulla's CSF sleeve reaches


@dataclass(frozen=True)
class Cerebellum:
    """Two hemisphere ellipsoids at ``x = +-hx`` and the vermis, centred at ``(y, z)``."""

    y: float
    z: float
    hx: float
    ax: float
    ay: float
    az: float
    verm_ax: float
    verm_ay: float
    verm_az: float
    fissure_half: float = 0.35  # half-width of the primary fissure


@dataclass(frozen=True)
class Surroundings:
    """Amniotic cavity (ellipsoid ``amn_*``) and fetal body (ellipsoid ``body_*``, centred on x = 0)."""

    amn_ax: float
    amn_ay: float
    amn_az: float
    amn_x: float
    amn_y: float
    amn_z: float
    body_ax: float
    body_ay: float
    body_az: float
    body_y: float
    body_z: float


@dataclass(frozen=True)
class Anatomy:
    """Every anatomical parameter of one phantom.

    ``z`` holds the drawn per-measure z-scores, ``target`` the sizes the anatomy is built to (mm);
    ``pathology`` and ``severity`` are recorded as applied (``'normal'``, 0.0 before).
    """

    ga: float
    z: Sizes
    target: Sizes
    cerebrum: Cerebrum
    coverings: Coverings
    cortex: Cortex
    callosum: Callosum
    ventricles: Ventricles
    deep: DeepGrey
    brainstem: Brainstem
    cerebellum: Cerebellum
    surroundings: Surroundings | None = None
    pathology: str = "normal"
    severity: float = 0.0

    @property
    def scale(self) -> float:
        """Head scale factor: the cerebrum's lateral semi-axis over that of a 29 mm reference."""
        return self.cerebrum.ax / 29.0

    def as_dict(self) -> dict:
        """Nested plain dict (floats, bools, strings, None) for the subject's ``params``."""
        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (bool, str)) or v is None:
                return v
            return float(v)

        return plain(asdict(self))


@dataclass(frozen=True)
class Geometry:
    """Voxel-dependent thicknesses and positions used by the rasteriser (mm).

    Thin structures are widened to a minimum number of voxels of size ``v`` so that the topology
    survives coarse grids (cortex ``t`` >= 1.8 voxels, fissure ``fiss`` >= 1.3 voxels, ...).
    """

    v: float  # voxel size
    t: float  # cortical thickness
    fiss: float  # interhemispheric fissure width
    gap: float  # CSF gap between cerebrum and cerebellum
    kw: float  # half-width of the midline core
    e: float  # external CSF over the convexity
    e_min: float
    e_ap: float  # ... in front and behind
    e_top: float  # ... above
    e_bot: float  # ... below
    pf: float  # CSF around the cerebellum
    skull: float
    scalp: float
    cc_body: float  # callosal thickness at the body
    cc_ends: float  # ... at the genu and splenium
    cb_fiss: float  # half-width of the cerebellum's primary fissure
    bs_a: np.ndarray  # brainstem capsule top (3,)
    bs_b: np.ndarray  # ... bottom (3,), well past the foramen magnum
    z_kb: float  # top of the base box
    base_y: tuple[float, float]  # y range of the base box (no cortex there)
    base_w: float  # its half-width
    notch_y: float  # the cerebellum is trimmed in front of this y
    base_z: float
    pf_c: np.ndarray  # posterior fossa ellipsoid centre (3,)
    pf_ax: np.ndarray  # ... and semi-axes (3,)
    fm_a: np.ndarray  # the medulla's CSF sleeve through the foramen magnum: axis top (3,)
    fm_b: np.ndarray  # ... bottom (3,)
    fm_r: float  # ... radius
