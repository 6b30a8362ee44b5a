"""Device names: auto falls back to the CPU, unavailable or unknown devices are a ConfigError."""

import pytest
import torch

from autoenc_audio.config import ConfigError
from autoenc_audio.devices import resolve_device


def test_cpu_and_auto_give_a_device_that_runs():
    assert resolve_device("cpu") == torch.device("cpu")
    device = resolve_device("auto")
    assert device.type in ("cpu", "cuda", "mps")
    assert torch.ones(2, device=device).sum().item() == 2


def test_an_unknown_device_names_the_choices():
    with pytest.raises(ConfigError, match="unknown device 'tpu': use auto, cpu, cuda or mps"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        resolve_device("cuda")
