"""The trainer's parts and process-wide torch settings: set for a call, restored after it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fetalseg.nets.device import resolve_device, torch_settings
from fetalseg.errors import InputError
from train_helpers import tiny_config


def test_torch_settings_restore_threads_and_onednn_mode_even_on_error():
    threads, det = torch.get_num_threads(), torch.backends.mkldnn.deterministic
    with torch_settings(threads=threads + 1, deterministic=not det):
        assert torch.get_num_threads() == threads + 1 and torch.backends.mkldnn.deterministic is (not det)
    assert torch.get_num_threads() == threads and torch.backends.mkldnn.deterministic is det
    with pytest.raises(RuntimeError):
        with torch_settings(threads=threads + 1, deterministic=not det):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == threads and torch.backends.mkldnn.deterministic is det


def test_resolve_device_names_the_parameter():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "", "CPU"):
        with pytest.raises(InputError, match="`device` must be auto, cpu, cuda or cuda:N") as err:
            resolve_device(bad)
        assert err.value.param == "device"
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_segment_threads_hold_for_the_call_only():
    from fetalseg import segment
    from fetalseg.io import Image

    seen = []

    def net(x):
        seen.append(torch.get_num_threads())
        return torch.zeros(x.shape[0], 8, *x.shape[2:])

    before = torch.get_num_threads()
    img = Image(np.random.default_rng(0).random((20, 20, 20)).astype(np.float32), np.diag([0.8, 0.8, 0.8, 1.0]))
    out = segment(img, net, threads=before + 1, tta=False, postprocess=False, device="cpu")
    assert out.shape == (20, 20, 20) and seen and set(seen) == {before + 1}
    assert torch.get_num_threads() == before


def test_train_restores_global_state_and_the_policy_writes_best_without_validation(tmp_path):
    from fetalseg.train import TrainConfig, load_checkpoint, read_log, train

    cfg = TrainConfig.from_yaml(tiny_config(tmp_path, steps=4, every=2, validation=False, threads=2))
    threads, det = torch.get_num_threads(), torch.backends.mkldnn.deterministic
    calls = []
    summary = train(cfg, tmp_path / "run", progress=lambda done, total, info: calls.append((done, total)))
    assert torch.get_num_threads() == threads and torch.backends.mkldnn.deterministic is det
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["step"] == 4 and summary["best_step"] == 4 and summary["best_dice"] is None
    assert best.get("optimizer") is None and load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["optimizer"]
    assert [r["step"] for r in read_log(tmp_path / "run" / "log.csv")] == [1, 2, 3, 4]
