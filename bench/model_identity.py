"""Hashes of a real-size model's training computation: the default preset's model (ARCH, LATENT from the
environment; default and 18376) initialised from fixed batches, trained 5 `train_step`s on them on one thread, then
its encode and decode of one clip. Run it with two trees' packages on one machine and compare: equal hashes mean a
change left the model, its losses and its training step as they were (exact on one machine: the same inputs,
kernels and thread count; not across CPUs). `behaviour_hashes.sh` does the same for the CLI on the tiny preset.

    PYTHONPATH=. ARCH=seed LATENT=9184 .venv/bin/python bench/model_identity.py
"""

import hashlib
import os

import torch

from autoenc_audio.config import load_config
from autoenc_audio.models import build_model
from autoenc_audio.training import loop

torch.set_num_threads(1)

config = load_config("default").override(
    model={"arch": os.environ.get("ARCH", "default"), "latent": int(os.environ.get("LATENT", "18376"))}
)
torch.manual_seed(0)
samples = config.audio.clip_samples
t = torch.arange(samples) / config.audio.sample_rate
batches = [
    0.3 * torch.sin(2 * torch.pi * (110 * (k + 1)) * t)[None, None].repeat(4, 1, 1) + 0.05 * torch.randn(4, 1, samples)
    for k in range(5)
]
model = build_model(config.model, config.audio)
model.initialize_from_data(torch.cat(batches))
opt = torch.optim.Adam(model.parameters(), lr=config.train.lr)
losses = [
    loop.train_step(
        model,
        b,
        opt,
        dict(config.train.loss_weights),
        1.0,
        config.train.grad_clip,
        autocast=False,
        sample_rate=config.audio.sample_rate,
    )["loss"]
    for b in batches
]
h = hashlib.sha256()
for k, v in sorted(model.state_dict().items()):
    h.update(k.encode())
    h.update(v.detach().contiguous().numpy().tobytes())
print("weights", h.hexdigest()[:16], "losses", [round(x, 6) for x in losses])
model.eval()
with torch.no_grad():
    z = model.encode(batches[0][:1])
    rec = model.decode(z)
for name, value in (("latent", z), ("reconstruction", rec)):
    print(name, tuple(value.shape), hashlib.sha256(value.contiguous().numpy().tobytes()).hexdigest()[:16])
