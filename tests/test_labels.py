"""fetalseg.labels: tables, topology targets and conversions."""

from __future__ import annotations

import numpy as np
import pytest

from fetalseg.labels import FETA, GENERATION, WITHCC, relabel, to_feta


def test_feta_table_and_topology_targets():
    assert FETA.values == tuple(range(8))
    assert FETA[2].betti == (2, 0, 0) and FETA[2].euler == 2
    for v in (1, 3, 4, 5, 6, 7):
        assert FETA[v].betti == (1, 0, 0) and FETA[v].euler == 1
    assert len({lab.short for lab in FETA.labels}) == 8
    assert FETA.colour_lut().shape == (8, 3)
    assert GENERATION.values[:8] == FETA.values and 8 in GENERATION


def test_withcc_conversion_matches_sb_atlas_readme():
    src = np.arange(9, dtype=np.uint8)
    assert to_feta(src, "withcc").tolist() == [0, 3, 4, 5, 1, 2, 6, 7, 3]
    assert to_feta(np.arange(13), "generation").tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 3, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="no mapping"):
        relabel(np.array([9]), {0: 0})
    with pytest.raises(ValueError, match="unknown label convention"):
        to_feta(src, "nope")
    assert set(WITHCC.values) == set(range(9))


@pytest.mark.shared
def test_withcc_files_convert_to_the_shipped_feta_files(sb_atlas):
    import nibabel as nib

    from conftest import atlas_files

    for files in atlas_files(sb_atlas, ("withcc", "dseg"), ["sub-sb21pre", "sub-sb30op"]).values():
        withcc = np.asanyarray(nib.load(files["withcc"]).dataobj)
        feta = np.asanyarray(nib.load(files["dseg"]).dataobj)
        assert np.array_equal(to_feta(withcc, "withcc"), feta)
