"""Shared bits of the experiments: real-music clips, test subset, evaluation."""

import json
import os

import numpy as np
import torch

from autoenc_audio import metrics

HERE = os.path.dirname(os.path.abspath(__file__))
MUSIC = os.path.join(HERE, "..", "music")
N, L, SR = 18376, 110250, 22050


def train_clips():
    return np.load(os.path.join(MUSIC, "train.npy"), mmap_mode="r")


def test_clips(count=96):
    test = np.load(os.path.join(MUSIC, "test.npy"), mmap_mode="r")
    idx = np.linspace(0, len(test) - 1, count).astype(int)  # spread over all 18 test tracks
    return torch.from_numpy(np.ascontiguousarray(test[idx]))


def evaluate(fn, clips, batch=16):
    """fn: [B, L] tensor -> [B, L] reconstruction. Returns batch-mean metrics and the MR-STFT terms."""
    out = {k: [] for k in ("snr_db", "si_sdr_db", "mrstft", "mel_l1", "lsd_db", "sc", "logmag")}
    with torch.no_grad():
        for i in range(0, len(clips), batch):
            x = clips[i : i + batch]
            y = fn(x)
            for k, f in metrics.METRICS.items():
                out[k].append(f(x, y))
            sc, lm = metrics.mrstft_terms(x, y)
            out["sc"].append(sc)
            out["logmag"].append(lm)
    return {k: round(float(torch.cat(v).mean()), 4) for k, v in out.items()}


def log(name, result):
    line = json.dumps({"name": name, **result})
    print(line, flush=True)
    with open(os.path.join(HERE, "results.jsonl"), "a") as f:
        f.write(line + "\n")
