"""`fetalseg train` rejects every bad input of the battery (as a label map and as a validation image)
with one line naming the file, exit code 2, and no run folder written."""

from __future__ import annotations

import pytest
import yaml

from badinput import BAD_KINDS, assert_clean_error, make_bad
from train_helpers import phantom_data


def _config(tmp_path, datasets, validation):
    cfg = {"name": "bad", "steps": 2, "patch_size": [32, 32, 32], "network": {"preset": "tiny"},
           "datasets": datasets, "validation": {"paths": validation, "every": 1}, "threads": 1}
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_label_map(tmp_path, cli, kind):
    bad, phrase = make_bad(kind, tmp_path / "in")
    cfg = _config(tmp_path, [{"paths": [str(bad)], "convention": "feta"}], [])
    run = tmp_path / "run"
    code, out, err = cli("train", cfg, "-o", run, "--no-progress")
    assert_clean_error(code, out, err, bad, phrase)
    assert not run.exists()


@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k not in ("bad-labels", "empty-dir")])
def test_bad_validation_image(tmp_path, cli, kind):
    maps, val = phantom_data(tmp_path)
    bad, phrase = make_bad(kind, tmp_path / "in")
    dseg = next(val.glob("sub-*/anat/*_dseg.nii.gz"))
    cfg = _config(tmp_path, [{"paths": [str(maps)], "convention": "feta"}], [[str(bad), str(dseg)]])
    run = tmp_path / "run"
    code, out, err = cli("train", cfg, "-o", run, "--no-progress")
    assert_clean_error(code, out, err, bad, phrase)
    assert not run.exists()


def test_an_error_during_the_run_is_internal_not_bad_input(tmp_path, cli, monkeypatch):
    """Bad configs and files fail at set-up as InputError (exit 2); a ValueError raised once training runs is a
    bug: exit 1 with 'internal error', and a traceback under --debug."""
    from fetalseg.train.data import SynthSource
    from train_helpers import tiny_config

    def broken(self, step):
        raise ValueError("a bug in the data source")

    monkeypatch.setattr(SynthSource, "next_batch", broken)
    cfg = tiny_config(tmp_path, steps=2, every=2)
    code, out, err = cli("train", cfg, "-o", tmp_path / "run", "--no-progress")
    assert code == 1 and "internal error: ValueError: a bug in the data source" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(ValueError, match="a bug in the data source"):
        cli("--debug", "train", cfg, "-o", tmp_path / "run2", "--no-progress")
