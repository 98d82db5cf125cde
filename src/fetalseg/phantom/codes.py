"""Label values used by the phantom, read from the GENERATION and FeTA tables of :mod:`fetalseg.labels`.

GENERATION labels 0-7 are the FeTA tissues; 8 and up are structures that FeTA does not segment
(the corpus callosum counts as white matter, the rest as background). The FeTA facts the topology
guard needs (which generation labels form a tissue, the target Betti numbers) come from the same
tables, never copied by hand.
"""

from __future__ import annotations

from ..labels import FETA, GENERATION, GENERATION_TO_FETA

_G = GENERATION.by_short
ECSF = _G("ecsf").value
GM = _G("gm").value
WM = _G("wm").value
VENT = _G("vent").value
CBM = _G("cbm").value
DGM = _G("dgm").value
BS = _G("bs").value
CC = _G("cc").value
SKULL = _G("skull").value
SCALP = _G("scalp").value
AMNIOTIC = _G("amniotic").value
MATERNAL = _G("maternal").value
FLUIDS = (ECSF, VENT, AMNIOTIC)
N_LABELS = max(GENERATION.values) + 1
"""Length of an array indexed by GENERATION label value."""

TARGETS: dict[int, tuple[int, int, int]] = {lab.value: lab.betti for lab in FETA.labels if lab.betti is not None}
"""FeTA tissue -> target Betti numbers (b0, b1, b2), in FeTA value order."""

TISSUES: dict[int, tuple[int, ...]] = {
    t: tuple(sorted(g for g, f in GENERATION_TO_FETA.items() if f == t)) for t in TARGETS
}
"""FeTA tissue -> the GENERATION labels that form it (its own value first)."""
