"""Pathology models: each a parameter change of the normal anatomy, scaled by a severity.

``severity`` is a positive float (1.0 = typical; 0.5 mild; 2.0 severe):

- ``vm`` ventriculomegaly: atrial width ``10.5 + 3 * severity`` mm (> 10 mm; > 15 mm from
  severity 1.5), the whole lateral ventricle enlarged with it; a horn never comes closer to the
  cortex than the mantle allows, so at young ages a severe dilation is capped by the space;
- ``acc`` agenesis of the corpus callosum: no callosum, the fissure reaching down to the roof of
  the third ventricle, parallel and widely spaced lateral ventricles, colpocephaly (dilated atria
  and occipital horns), a high-riding third ventricle;
- ``sb`` spina bifida aperta with Chiari II: small posterior fossa, small cerebellum pulled low
  towards the foramen magnum, effaced external CSF, ventriculomegaly (atrial width 11 + 2.5 * severity
  mm, bodies and horns widened more than in ``vm``: 12-17 % of the brain against the shared spina bifida
  atlases' 15-23 %; wider dilations squeeze the deep grey matter and thin the white matter the topology
  needs at 0.8 mm);
- ``micro`` microcephaly: brain (and skull) below -3 SD, simplified and delayed folding.
"""

from __future__ import annotations

from dataclasses import replace

from .anatomy import PATHOLOGIES
from .params import Anatomy, Ventricles

NAMES = {
    "normal": "Neurotypical",
    "vm": "Ventriculomegaly",
    "acc": "Agenesis of the corpus callosum",
    "sb": "Spina bifida (Chiari II)",
    "micro": "Microcephaly",
}


def check(pathology: str, severity: float) -> tuple[str, float]:
    """Validate a pathology name and severity (0 < severity <= 3)."""
    if pathology not in PATHOLOGIES:
        raise ValueError(f"unknown pathology {pathology!r}; known: {', '.join(PATHOLOGIES)}")
    severity = float(severity)
    if not 0.0 < severity <= 3.0:
        raise ValueError(f"severity must be in (0, 3], got {severity:g}")
    return pathology, severity


def z_shift(pathology: str, severity: float) -> dict[str, float]:
    """Shift (SD units) of the size targets for a pathology, applied before the anatomy is built."""
    if pathology == "micro":
        s = -(3.6 + 1.2 * severity)
        return {"bBIP": s, "sBIP": s, "LCC": -1.5 - severity, "TCD": -1.5 - 0.5 * severity,
                "HV": -1.0 - 0.5 * severity}
    if pathology == "sb":
        return {"TCD": -2.5 - severity, "HV": -2.0 - severity, "sBIP": -1.5 * severity}
    return {}


def folding_delay(pathology: str, severity: float) -> float:
    """Weeks by which sulcation lags behind GA (microcephaly: simplified gyral pattern)."""
    return 3.0 * severity if pathology == "micro" else 0.0


def apply(a: Anatomy, pathology: str, severity: float) -> Anatomy:
    """The anatomy ``a`` changed for ``pathology`` at ``severity`` (a new object; ``a`` is frozen)."""
    if pathology == "normal":
        return a
    s = a.scale
    a = replace(a, pathology=pathology, severity=severity)
    if pathology == "vm":
        a = replace(a, ventricles=_dilate_ventricles(a.ventricles, 10.5 + 3.0 * severity))
    elif pathology == "acc":
        a = _agenesis(a, s, severity)
    elif pathology == "sb":
        a = _chiari(a, severity)
    return a


def _agenesis(a: Anatomy, s: float, severity: float) -> Anatomy:
    """No callosum; the fissure reaches the roof of the third ventricle; parallel, widely spaced
    ventricles with colpocephaly; a high-riding third ventricle."""
    v, cc = a.ventricles, a.callosum
    cc = replace(cc, present=False, acc_roof=v.zc + v.rz + v.body_height + 1.5 * s - cc.z)
    wide = 10.5 * s
    v = replace(v, x_front=wide, x_body=wide + 0.5 * s, x_atrium=max(v.x_atrium, wide + 3.0 * s))
    v = _dilate_ventricles(v, 10.0 + 2.0 * severity, body=False)
    v = replace(v, occ_horn_length=v.occ_horn_length * (2.5 + severity), v3_raise=0.35 * a.deep.thal_az)
    return replace(a, callosum=cc, ventricles=v)


def _chiari(a: Anatomy, severity: float) -> Anatomy:
    """Chiari II: effaced external CSF, small low cerebellum, narrow frontal bones, ventriculomegaly."""
    cov = a.coverings
    cov = replace(cov, ecsf=cov.ecsf * max(0.25, 0.6 - 0.15 * severity),
                  pf_csf=cov.pf_csf * max(0.2, 0.5 - 0.15 * severity))
    drop = (0.25 + 0.15 * severity) * a.target.HV
    cb = replace(a.cerebellum, z=a.cerebellum.z - drop)
    bs = replace(a.brainstem, pons_z=a.brainstem.pons_z - 0.5 * drop)
    cer = replace(a.cerebrum, front_taper=a.cerebrum.front_taper + 0.08 * severity)  # lemon sign
    vent = _dilate_ventricles(a.ventricles, 11.0 + 2.5 * severity, power=0.9)
    return replace(a, coverings=cov, cerebellum=cb, brainstem=bs, cerebrum=cer, ventricles=vent)


def _dilate_ventricles(v: Ventricles, atrial_width: float, body: bool = True, power: float = 0.6) -> Ventricles:
    """The ventricles with the atrium widened to ``atrial_width`` (mm) and the other horns and (``body``) the
    bodies by ``f ** power``, ``f`` the atrium's widening."""
    f = atrial_width / max(v.atrial_width, 1e-3)
    g = f ** power
    out = replace(v, atrial_width=atrial_width, atrium_height=0.65 * atrial_width,
                  x_atrium=v.x_atrium + 0.25 * (atrial_width - 6.5), occ_horn_length=v.occ_horn_length * g)
    if body:
        out = replace(out, body_width=v.body_width * g, body_height=v.body_height * g,
                      front_width=v.front_width * g)
    return out
