"""The FeTA tissue table, the 8-label table with corpus callosum, and the generation labels.

FeTA (Payette et al. 2021, 2024): 0 background, 1 external CSF, 2 cortical grey matter,
3 white matter, 4 ventricles, 5 cerebellum, 6 deep grey matter, 7 brainstem.
"""

from __future__ import annotations

from .table import Label, LabelTable

FETA = LabelTable(
    "FeTA",
    (
        Label(0, "background", "bg", (0, 0, 0), None),
        Label(1, "external cerebrospinal fluid", "ecsf", (120, 180, 255), (1, 0, 0)),
        Label(2, "cortical grey matter", "gm", (230, 80, 60), (2, 0, 0)),
        Label(3, "white matter", "wm", (245, 245, 220), (1, 0, 0)),
        Label(4, "ventricles", "vent", (60, 90, 230), (1, 0, 0)),
        Label(5, "cerebellum", "cbm", (240, 200, 40), (1, 0, 0)),
        Label(6, "deep grey matter", "dgm", (60, 200, 90), (1, 0, 0)),
        Label(7, "brainstem", "bs", (200, 90, 220), (1, 0, 0)),
    ),
)
"""FeTA labels 0-7 with expected Betti numbers: grey matter (2, 0, 0) for the two hemispheres,
every other tissue (1, 0, 0)."""

WITHCC = LabelTable(
    "sb-atlas-withcc",
    (
        Label(0, "background", "bg", (0, 0, 0)),
        Label(1, "white matter", "wm", (245, 245, 220)),
        Label(2, "intra-axial CSF (ventricles)", "vent", (60, 90, 230)),
        Label(3, "cerebellum", "cbm", (240, 200, 40)),
        Label(4, "extra-axial CSF", "ecsf", (120, 180, 255)),
        Label(5, "cortical grey matter", "gm", (230, 80, 60)),
        Label(6, "deep grey matter", "dgm", (60, 200, 90)),
        Label(7, "brainstem", "bs", (200, 90, 220)),
        Label(8, "corpus callosum", "cc", (255, 140, 0)),
    ),
)
"""The 8-label parcellation of the spina bifida atlas (Fidon et al. 2021), corpus callosum kept."""

GENERATION = LabelTable(
    "generation",
    FETA.labels
    + (
        Label(8, "corpus callosum", "cc", (255, 140, 0)),
        Label(9, "skull", "skull", (150, 150, 150)),
        Label(10, "scalp and fetal soft tissue", "scalp", (180, 120, 100)),
        Label(11, "amniotic fluid", "amniotic", (160, 220, 255)),
        Label(12, "maternal tissue", "maternal", (120, 80, 60)),
    ),
)
"""FeTA labels 0-7 plus generation-only labels (8 and up) for structures that synthetic images
need but FeTA does not segment: corpus callosum (white matter in FeTA), skull, scalp, amniotic
fluid, maternal tissue. Used by :mod:`fetalseg.phantom` and :mod:`fetalseg.synth`."""

DHCP = LabelTable(
    "dHCP-drawem9",
    (
        Label(0, "unlabelled", "bg", (0, 0, 0)),
        Label(1, "CSF", "csf", (120, 180, 255)),
        Label(2, "cortical grey matter", "gm", (230, 80, 60)),
        Label(3, "white matter", "wm", (245, 245, 220)),
        Label(4, "background", "out", (20, 20, 20)),
        Label(5, "ventricles", "vent", (60, 90, 230)),
        Label(6, "cerebellum", "cbm", (240, 200, 40)),
        Label(7, "deep grey matter", "dgm", (60, 200, 90)),
        Label(8, "brainstem", "bs", (200, 90, 220)),
        Label(9, "hippocampi and amygdala", "hip", (255, 120, 160)),
    ),
)
"""The dHCP structural pipeline's 9-tissue segmentation (draw-em)."""
