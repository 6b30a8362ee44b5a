"""Train the default frame model on real music for a wall-clock budget; evaluate on held-out tracks.

python train_frame.py NAME --minutes 3 [--alpha 0.5 --lr 2e-3 --width 256 --blocks 4 --batch 16
                        --w-l1 1 --w-mrstft 1 --w-mel 0 --kind ae --hop 512]
"""

import argparse
import time

import numpy as np
import torch
from common import L, N, evaluate, log, test_clips, train_clips

from autoenc_audio.config import ModelConfig
from autoenc_audio.models import frame
from autoenc_audio.training import losses

p = argparse.ArgumentParser()
p.add_argument("name")
p.add_argument("--minutes", type=float, default=3)
p.add_argument("--alpha", type=float, default=0.5)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--width", type=int, default=256)
p.add_argument("--blocks", type=int, default=4)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--hop", type=int, default=512)
p.add_argument("--w-l1", type=float, default=1.0)
p.add_argument("--w-mrstft", type=float, default=1.0)
p.add_argument("--w-mel", type=float, default=0.0)
p.add_argument("--kind", default="ae")
p.add_argument("--kl", type=float, default=1e-4)
p.add_argument("--latent", type=int, default=N)
p.add_argument("--crop", type=int, default=0, help="train on random crops of this many samples (0: full clips)")
a = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)
frame.PCA_ALPHA = a.alpha
tr = train_clips()
test = test_clips()
rng = np.random.default_rng(0)
model = frame.build_frame(ModelConfig(latent=a.latent, kind=a.kind, hop=a.hop, width=a.width, blocks=a.blocks), L)
init = torch.from_numpy(np.asarray(tr[np.sort(rng.choice(len(tr), 128, replace=False))]))[:, None]
model.initialize_from_data(init)
params = sum(p.numel() for p in model.parameters())
model.eval()


def recon(x):
    return model(x[:, None])["recon"][:, 0]


t0 = time.time()
res0 = evaluate(recon, test)
eval_s = time.time() - t0
print("init", res0, f"eval {len(test) / eval_s:.1f} clips/s (encode+decode+metrics)", flush=True)
if a.minutes > 0:
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    model.train()
    start = time.time()
    steps = 0
    seen = 0
    budget = a.minutes * 60
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        for g in opt.param_groups:
            g["lr"] = a.lr * 0.5 * (1 + np.cos(np.pi * frac))  # cosine to 0
        idx = np.sort(rng.choice(len(tr), a.batch, replace=False))
        x = torch.from_numpy(np.asarray(tr[idx]))[:, None]
        if a.crop:
            off = rng.integers(0, L - a.crop)
            x = x[..., off : off + a.crop]
            # crops need a model for that length: same weights, the model is length agnostic
        if a.crop:  # the model is length-agnostic at the frame level: encoder -> decoder directly
            feats = model.encoder(x)
            if a.kind == "vae":
                mean, logvar = feats.chunk(2, 1)
                feats = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
                out = {"kl": 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()}
            else:
                out = {}
            out["recon"] = model.decoder(feats)[..., : a.crop]
        else:
            out = model(x)
        y = out["recon"]
        loss = a.w_l1 * losses.waveform_l1(x, y) + a.w_mrstft * losses.multi_resolution_stft_loss(x, y)
        if a.w_mel:
            loss = loss + a.w_mel * losses.mel_loss(x, y)
        if "kl" in out:
            loss = loss + a.kl * out["kl"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps += 1
        seen += a.batch
        if steps % 20 == 0:
            print(f"{time.time() - start:.0f}s step {steps} loss {loss.item():.4f}", flush=True)
    rate = seen / (time.time() - start)
    model.eval()
else:
    rate = float("nan")
res = evaluate(recon, test)
x = test[:16, None]
with torch.no_grad():
    t0 = time.time()
    z = model.encode(x)
    te = time.time() - t0
    t0 = time.time()
    model.decode(z)
    td = time.time() - t0
log(
    a.name,
    {
        **res,
        "train_clips_per_s": round(rate, 2),
        "encode_clips_per_s": round(16 / te, 1),
        "decode_clips_per_s": round(16 / td, 1),
        "params": params,
        "init": res0,
        "args": vars(a),
    },
)
