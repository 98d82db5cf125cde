"""Pathology models: each a parameter change of the normal anatomy, scaled by a severity.

``severity`` is a positive float (1.0 = typical; 0.5 mild; 2.0 severe):

- ``vm`` ventriculomegaly: atrial width ``10.5 + 3 * severity`` mm (> 10 mm; > 15 mm from
  severity 1.5), the whole lateral ventricle enlarged with it; a horn never comes closer to the
  cortex than the mantle allows, so at young ages a severe dilation is capped by the space;
- ``acc`` agenesis of the corpus callosum: no callosum, the fissure reaching down to the roof of
  the third ventricle, parallel and widely spaced lateral ventricles, colpocephaly (dilated atria
  and occipital horns), a high-riding third ventricle;
- ``sb`` spina bifida aperta with Chiari II: small posterior fossa, small cerebellum pulled low
  towards the foramen magnum, effaced external CSF, mild ventriculomegaly;
- ``micro`` microcephaly: brain (and skull) below -3 SD, simplified and delayed folding.
"""

from __future__ import annotations

from .anatomy import PATHOLOGIES

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


def apply(p: dict, pathology: str, severity: float) -> dict:
    """Modify the anatomy parameters ``p`` in place for ``pathology``; returns ``p``."""
    s = p["cer_ax"] / 29.0
    p["pathology_vm"] = p["pathology_acc"] = p["pathology_sb"] = p["pathology_micro"] = 0.0
    if pathology == "normal":
        return p
    p[f"pathology_{pathology}"] = severity
    if pathology == "vm":
        _dilate_ventricles(p, 10.5 + 3.0 * severity)
    elif pathology == "acc":
        p["cc_present"] = 0.0
        p["acc_roof"] = p["vent_zc"] + p["vent_rz"] + p["vent_body_height"] + 1.5 * s - p["cc_z"]
        wide = 10.5 * s
        p["vent_x_front"] = wide
        p["vent_x_body"] = wide + 0.5 * s
        p["vent_x_atrium"] = max(p["vent_x_atrium"], wide + 3.0 * s)
        _dilate_ventricles(p, 10.0 + 2.0 * severity, body=False)
        p["occ_horn_length"] *= 2.5 + severity
        p["v3_raise"] = 0.35 * p["thal_az"]
    elif pathology == "sb":
        p["ecsf"] *= max(0.25, 0.6 - 0.15 * severity)
        p["pf_csf"] *= max(0.2, 0.5 - 0.15 * severity)
        drop = (0.25 + 0.15 * severity) * p["target_HV"]
        p["cb_z"] -= drop
        p["pons_z"] -= 0.5 * drop
        p["cer_front_taper"] += 0.08 * severity  # lemon sign: narrow frontal bones
        _dilate_ventricles(p, 9.5 + 2.0 * severity)
    # the basal ganglia stay lateral to the (possibly wider) ventricular bodies, squeezed rather than
    # pushed into the cortex: their lateral edge stays where it was
    lateral = p["bg_x"] + p["bg_ax"]
    medial = max(p["bg_x"] - p["bg_ax"], p["vent_x_body"] + p["vent_body_width"] + 0.8 * s)
    p["bg_ax"] = max(0.5 * (lateral - medial), 2.5 * s)
    p["bg_x"] = max(0.5 * (lateral + medial), medial + p["bg_ax"] - 0.01)
    return p


def _dilate_ventricles(p: dict, atrial_width: float, body: bool = True) -> None:
    f = atrial_width / max(p["atrial_width"], 1e-3)
    p["atrial_width"] = atrial_width
    p["atrium_height"] = 0.65 * atrial_width
    g = f ** 0.6
    if body:
        p["vent_body_width"] *= g
        p["vent_body_height"] *= g
        p["vent_front_width"] *= g
    p["vent_x_atrium"] += 0.25 * (atrial_width - 6.5)
    p["occ_horn_length"] *= g
