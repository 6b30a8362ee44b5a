"""Training and generation throughput of the default model (N = 18376) on a CUDA GPU, as JSON.

Times `train_step` on random 5 s clips at several batch sizes, with and
without bf16 autocast, after warm-up, synchronising the device; and the
encode/decode real-time factor of a batch of clips. Run by bench/cuda_check.sh.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from autoenc_audio.config import load_config
from autoenc_audio.models import build_model
from autoenc_audio.training.loop import train_step

ROOT = Path(__file__).resolve().parents[1]


def timed_steps(model, optimizer, batch, weights, autocast: bool, sample_rate: int, steps: int = 20) -> float:
    """Seconds per step after 5 warm-up steps."""
    for _ in range(5):
        train_step(model, batch, optimizer, weights, 1.0, 1.0, autocast, sample_rate=sample_rate)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, batch, optimizer, weights, 1.0, 1.0, autocast, sample_rate=sample_rate)
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps


def main() -> None:
    config = load_config(ROOT / "configs" / "default.toml")
    device = torch.device("cuda")
    model = build_model(config.model, config.audio).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.train.lr)
    weights = config.train.loss_weights
    samples = config.audio.clip_samples
    rows = []
    for batch_size in (4, 16, 64):
        batch = torch.randn(batch_size, 1, samples, device=device) * 0.1
        for autocast in (False, True):
            seconds = timed_steps(model, optimizer, batch, weights, autocast, config.audio.sample_rate)
            rows.append(
                {
                    "batch": batch_size,
                    "bf16": autocast,
                    "step_s": round(seconds, 4),
                    "clips_per_s": round(batch_size / seconds, 1),
                }
            )
    model.eval()
    batch = torch.randn(64, 1, samples, device=device) * 0.1
    with torch.no_grad():
        for _ in range(3):
            model.decode(model.encode(batch))
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(10):
            model.decode(model.encode(batch))
        torch.cuda.synchronize()
    per_batch = (time.perf_counter() - started) / 10
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(0),
                "torch": torch.__version__,
                "latent": config.model.latent,
                "train": rows,
                "encode_decode_x_real_time": round(64 * config.audio.clip_seconds / per_batch, 1),
                "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
