"""Where torch runs: the one rule for turning a device name into a :class:`torch.device`, and process-wide
torch settings (threads, oneDNN determinism) that are restored after use (training and inference)."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator

import torch

from ..errors import InputError

_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The torch device meant by ``name``.

    Parameters
    ----------
    name : {'auto', 'cpu', 'cuda', 'cuda:N'}
        'auto' is CUDA when a GPU is available, else the CPU.
    local_rank : int
        Process index on its node (``torchrun``'s ``LOCAL_RANK``): 'auto' and 'cuda' pick GPU
        ``local_rank % device_count``; 'cuda:N' is taken as given.

    Raises
    ------
    InputError
        ``name`` is none of the above, or names CUDA on a machine without a CUDA GPU.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(None, f"`device` must be auto, cpu, cuda or cuda:N, got {name!r}", param="device")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError(None, f"`device={name!r}` requested but no CUDA GPU is available (use `device='cpu'`)",
                         param="device")
    if name == "cuda":
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


@contextlib.contextmanager
def torch_settings(*, threads: int | None = None, deterministic: bool | None = None) -> Iterator[None]:
    """Set torch's process-wide settings for a ``with`` block and restore the previous ones after it.

    Parameters
    ----------
    threads : int, optional
        ``torch.set_num_threads`` (intra-op CPU threads) inside the block.
    deterministic : bool, optional
        ``torch.backends.mkldnn.deterministic`` (oneDNN: same inputs, same bits) inside the block.
    """
    old_threads, old_det = torch.get_num_threads(), torch.backends.mkldnn.deterministic
    try:
        if threads is not None:
            torch.set_num_threads(int(threads))
        if deterministic is not None:
            torch.backends.mkldnn.deterministic = bool(deterministic)
        yield
    finally:
        if torch.get_num_threads() != old_threads:
            torch.set_num_threads(old_threads)
        torch.backends.mkldnn.deterministic = old_det
