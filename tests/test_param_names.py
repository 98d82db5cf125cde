"""Library errors name parameters; the command line shows them as its flags."""

from __future__ import annotations

import pytest

from fetalseg.errors import InputError, rename_params


def test_rename_params_forms():
    flags = {"overwrite": "--overwrite", "device": "--device", "which": "--checkpoint", "run_dir": "-o"}
    assert rename_params("x (use `overwrite=True` to replace it)", flags) == "x (use --overwrite to replace it)"
    assert rename_params("`device='cuda'` requested (use `device='cpu'`)", flags) == \
        "--device cuda requested (use --device cpu)"
    assert rename_params("`which` must be 'best' or 'last'", flags) == "--checkpoint must be 'best' or 'last'"
    assert rename_params("choose another `run_dir`; see `fetalseg train CONFIG`", flags) == \
        "choose another -o; see `fetalseg train CONFIG`"
    assert rename_params("`sites` must be 1-5", flags) == "`sites` must be 1-5"  # not a flag here: kept


def test_input_error_carries_the_parameter():
    err = InputError(None, "`threads` must be >= 1, got 0", param="threads")
    assert err.param == "threads" and err.message == "`threads` must be >= 1, got 0" and err.path is None


def test_library_messages_become_flags_at_the_command_line(cli, tmp_path):
    code, _, err = cli("export", tmp_path, "-o", tmp_path / "m.safetensors", "--checkpoint", "first")
    assert code == 2 and "--checkpoint must be 'best' or 'last'" in err and "`" not in err
    code, _, err = cli("segment", tmp_path / "a.nii.gz", "-o", tmp_path / "o", "--threads", "0")
    assert code == 2 and "--threads must be >= 1" in err


def test_library_messages_name_parameters_in_python():
    from fetalseg.io import write_text

    with pytest.raises(InputError, match="use `overwrite=True` to replace it") as exc:
        write_text(__file__, "x")
    assert exc.value.param == "overwrite"
