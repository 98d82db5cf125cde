"""Bad configurations and tables for every command that reads one, and one bad input per command run as a
user runs it (a fresh ``fetalseg`` process): exit code 2, exactly one stderr line ``fetalseg: error: ...``
with the phrase of the problem, no traceback, and nothing written anywhere (outputs, run folders, temporaries).

The NIfTI battery of each command (``badinput.BAD_KINDS``) runs in-process in the command's own tests;
the subprocess run here also catches what an in-process run hides (warnings printed on stderr, a
traceback from an import, output of a child process).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml

from badinput import assert_one_line_error, make_bad, run_as_user, snapshot
from conftest import make_labels

TRAIN_BASE = {"name": "bad", "steps": 2, "patch_size": [32, 32, 32], "network": {"preset": "tiny"}, "threads": 1}


def _labels(path: Path, value: int | None = None) -> Path:
    lab = make_labels((20, 22, 18))
    if value is not None:
        lab[8:12, 8:12, 8:12] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(lab, np.diag([0.8, 0.8, 0.8, 1.0])), str(path))
    return path


def _train_config(root: Path, datasets=None, **changes) -> Path:
    if datasets is None:
        datasets = [{"paths": [str(_labels(root / "maps" / "sub-1_dseg.nii.gz").parent)], "convention": "feta"}]
    cfg = dict(TRAIN_BASE, datasets=datasets, **changes)
    p = root / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def _yaml(root: Path, name: str, text: str) -> Path:
    p = root / name
    p.write_text(text)
    return p


def _metrics_csv(root: Path, name: str, row: str) -> Path:
    header = "subject,label,label_name,dice,hd95,vs,ec,betti0,betti1,betti2,ed"
    good = "sub-01,1,external cerebrospinal fluid,0.9,1.0,0.95,1,1,0,0,0.0"
    p = root / name
    p.write_text(f"{header}\n{good}\n{row}\n")
    return p


# Each case: root (an empty input folder) -> (arguments, phrase of the problem, path the line must name or None).
# Outputs go to root.parent / "out"; the test checks that nothing at all appears or changes.
def _train_unknown_key(root):
    p = _train_config(root, nme="x")
    return ["train", p, "-o", root.parent / "out"], "unknown config key(s) ['nme']", p


def _train_wrong_type(root):
    p = _train_config(root, steps="many")
    return ["train", p, "-o", root.parent / "out"], "steps must be an integer", p


def _train_missing_dataset(root):
    missing = root / "nowhere"
    p = _train_config(root, datasets=[{"paths": [str(missing)], "convention": "feta"}])
    return ["train", p, "-o", root.parent / "out"], "not found", missing


def _train_empty_dataset(root):
    empty = root / "empty"
    empty.mkdir()
    p = _train_config(root, datasets=[{"paths": [str(empty)], "convention": "feta"}])
    return ["train", p, "-o", root.parent / "out"], "no NIfTI files", empty


def _train_foreign_labels(root):
    bad = _labels(root / "foreign" / "sub-1_dseg.nii.gz", value=42)
    p = _train_config(root, datasets=[{"paths": [str(bad.parent)], "convention": "feta"}])
    return ["train", p, "-o", root.parent / "out"], "outside the FeTA table", bad


def _train_patch_not_divisible(root):
    p = _train_config(root, patch_size=[30, 32, 32])
    return ["train", p, "-o", root.parent / "out"], "must be multiples of 4", p


def _synth_config_unknown_key(root):
    maps = _labels(root / "maps" / "sub-1_dseg.nii.gz").parent
    p = _yaml(root, "synth.yaml", "output_shape: [24, 24, 24]\nnope: 1\n")
    return ["synth", maps, "-o", root.parent / "out", "--config", p], "unknown synth config keys: nope", p


def _synth_config_wrong_type(root):
    p = _yaml(root, "synth.yaml", "p_flip: often\n")
    return ["synth", "config", "--config", p, "-o", root.parent / "out" / "c.yaml"], "p_flip must be a number", p


def _synth_weights_malformed(root):
    p = root / "w.json"
    p.write_text('{"files": ["a.nii.gz"], "weights": ["x"]}')
    return ["synth", "-o", root.parent / "out", "--weights", p, "-n", "1"], "'weights' must be a list of numbers", p


def _synth_weights_foreign_labels(root):
    bad = _labels(root / "maps" / "sub-1_dseg.nii.gz", value=42)
    return (["synth", "weights", bad, "-o", root.parent / "out" / "w.json", "--convention", "feta"],
            "has values outside the", bad)


def _synth_weights_shares(root):
    maps = _labels(root / "maps" / "sub-1_dseg.nii.gz").parent
    return ["synth", "weights", maps, "-o", root.parent / "out" / "w.json", "--shares", "1,2"], "2 values", None


def _phantom_ga(root):
    return ["phantom", "-o", root.parent / "out", "--ga", "10:20", "--n", "1"], "GA range", None


def _phantom_pathology(root):
    return ["phantom", "-o", root.parent / "out", "--pathology", "normal,hydro", "--n", "1"], "unknown pathology", None


def _rank_bad_value(root):
    a = _metrics_csv(root, "a.csv", "sub-01,2,cortical grey matter,high,1.0,0.9,2,2,0,0,0.0")
    b = _metrics_csv(root, "b.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0")
    return ["rank", a, b, "-o", root.parent / "out" / "rank.csv"], "line 3: bad value 'high' in column dice", a


def _rank_ragged_row(root):
    a = _metrics_csv(root, "a.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0,extra")
    b = _metrics_csv(root, "b.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0")
    return ["rank", a, b, "-o", root.parent / "out" / "rank.csv"], "number of fields differs from the header", a


def _rank_not_metrics(root):
    a = _yaml(root, "a.csv", "x,y\n1,2\n")
    b = _metrics_csv(root, "b.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0")
    return ["rank", a, b, "-o", root.parent / "out" / "rank.csv"], "not a fetalseg metrics CSV", a


def _analyze_bad_ga(root):
    m = _metrics_csv(root, "m.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0")
    t = _yaml(root, "participants.tsv", "participant_id\tGestational age\tPathology\nsub-01\tabc\tNeurotypical\n")
    return ["analyze", m, t, "-o", root.parent / "out"], "gestational age 'abc' is not a number", t


def _analyze_missing_column(root):
    m = _metrics_csv(root, "m.csv", "sub-01,2,cortical grey matter,0.8,1.0,0.9,2,2,0,0,0.0")
    t = _yaml(root, "participants.tsv", "participant_id,Gestational age,Pathology\nsub-01,30,Neurotypical\n")
    return ["analyze", m, t, "-o", root.parent / "out"], "missing column(s)", t


def _report_bad_participants(root):
    lab = _labels(root / "sub-01_dseg.nii.gz")
    t = _yaml(root, "participants.tsv", "participant_id\tGestational age\nsub-01\t30\n")
    return ["report", lab, "-o", root.parent / "out", "--participants", t], "missing column(s) Pathology", t


def _train_dae_unknown_key(root):
    p = _yaml(root, "dae.yaml", "nme: x\n")
    return ["train-dae", p, "-o", root.parent / "out"], "unknown config key(s) ['nme']", p


def _export_dae_no_checkpoint(root):
    return ["export-dae", root, "-o", root.parent / "out" / "d.safetensors"], "checkpoint not found", None


def _biometry_bad_baseline(root):
    lab = _labels(root / "sub-01_dseg.nii.gz")
    img = root / "sub-01_T2w.nii.gz"
    nib.save(nib.Nifti1Image(make_labels((20, 22, 18)).astype(np.float32) * 30, np.diag([0.8, 0.8, 0.8, 1.0])),
             str(img))
    b = _yaml(root, "baseline.json", '{"nope": 1}')
    return (["biometry", img, "--seg", lab, "--ga", "30", "--baseline", b, "-o", root.parent / "out"],
            "not a GA baseline", b)


def _evaluate_bad_labels(root):
    bad, phrase = make_bad("bad-labels", root)
    good = _labels(root / "ref" / "sub-bad_dseg.nii.gz")
    return ["evaluate", bad, good, "-o", root.parent / "out" / "m.csv"], phrase, bad


def _info_nan(root):
    bad, phrase = make_bad("nan", root)
    return ["info", bad], phrase, bad


def _relabel_truncated(root):
    bad, phrase = make_bad("truncated", root)
    return ["relabel", bad, "-o", root.parent / "out" / "x.nii.gz", "--from", "feta"], phrase, bad


def _resample_4d(root):
    bad, phrase = make_bad("4d", root)
    return ["resample", bad, "-o", root.parent / "out" / "x.nii.gz", "--voxel", "1.0"], phrase, bad


def _segment_not_nifti(root):
    bad, phrase = make_bad("not-nifti", root)
    return ["segment", bad, "-o", root.parent / "out" / "x.nii.gz"], phrase, bad


def _export_no_checkpoint(root):
    return ["export", root, "-o", root.parent / "out" / "m.safetensors"], "checkpoint not found", None


CASES = {f.__name__[1:]: f for f in (
    _train_unknown_key, _train_wrong_type, _train_missing_dataset, _train_empty_dataset, _train_foreign_labels,
    _train_patch_not_divisible, _synth_config_unknown_key, _synth_config_wrong_type, _synth_weights_malformed,
    _synth_weights_foreign_labels, _synth_weights_shares, _phantom_ga, _phantom_pathology, _rank_bad_value,
    _rank_ragged_row, _rank_not_metrics, _analyze_bad_ga, _analyze_missing_column, _report_bad_participants,
    _train_dae_unknown_key, _export_dae_no_checkpoint, _biometry_bad_baseline, _evaluate_bad_labels, _info_nan,
    _relabel_truncated, _resample_4d, _segment_not_nifti, _export_no_checkpoint)}

# one case per command (and synth sub-command) for the subprocess run
AS_USER = {"train": "train_wrong_type", "synth": "synth_config_unknown_key", "synth config": "synth_config_wrong_type",
           "synth weights": "synth_weights_foreign_labels", "phantom": "phantom_ga", "rank": "rank_bad_value",
           "analyze": "analyze_bad_ga", "report": "report_bad_participants", "train-dae": "train_dae_unknown_key",
           "export-dae": "export_dae_no_checkpoint", "biometry": "biometry_bad_baseline",
           "evaluate": "evaluate_bad_labels", "info": "info_nan", "relabel": "relabel_truncated",
           "resample": "resample_4d", "segment": "segment_not_nifti", "export": "export_no_checkpoint"}


def _setup(tmp_path: Path, name: str):
    root = tmp_path / "in"
    root.mkdir()
    args, phrase, path = CASES[name](root)
    return args, phrase, path, snapshot(tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_in_process(cli, tmp_path, monkeypatch, name):
    args, phrase, path, before = _setup(tmp_path, name)
    monkeypatch.chdir(tmp_path)  # a default output folder (runs/NAME) would land here
    code, out, err = cli(*args)
    assert_one_line_error(code, out, err, phrase, path)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", list(AS_USER.values()), ids=list(AS_USER))
def test_bad_input_as_a_user(tmp_path, name):
    args, phrase, path, before = _setup(tmp_path, name)
    code, out, err = run_as_user(args, cwd=tmp_path)
    assert_one_line_error(code, out, err, phrase, path)
    assert snapshot(tmp_path) == before


def test_every_command_is_run_as_a_user():
    """A new command needs a bad-input case here (this test names the commands that have none)."""
    from fetalseg.cli.main import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert commands <= set(AS_USER), sorted(commands - set(AS_USER))
    for command, case in AS_USER.items():
        assert case.replace("_", "-").startswith(command.replace(" ", "-")), (command, case)


def test_config_type_check_is_shared_by_train_and_synth():
    """One rule in one place: both configs name the key of a wrongly typed value the same way."""
    from fetalseg.errors import InputError
    from fetalseg.synth import SynthConfig
    from fetalseg.train import TrainConfig

    with pytest.raises(InputError, match="p_flip must be a number, got str 'often'"):
        SynthConfig.from_dict({"p_flip": "often"})
    with pytest.raises(InputError, match="scaling must be a list of numbers"):
        SynthConfig.from_dict({"scaling": [0.8, "x"]})
    with pytest.raises(InputError, match="resolution_mm must be a number, got str 'fine'"):
        TrainConfig.from_dict({"source": "random", "resolution_mm": "fine"})
