"""Non-learned references at N = 18376 on the real test clips: soxr resample, frame PCA (512-sample rectangular frames)."""

import numpy as np
import soxr
import torch
from common import SR, L, N, evaluate, log, test_clips, train_clips

torch.set_num_threads(2)
test = test_clips()


def resample(x):
    out = []
    for c in x.numpy():
        low = soxr.resample(c, SR, SR * N / L)
        back = soxr.resample(low, SR * N / L, SR)
        out.append(np.pad(back, (0, max(0, L - len(back))))[:L])
    return torch.from_numpy(np.stack(out)).float()


log("ref_resample_soxr", evaluate(resample, test))

# frame PCA: 216 rectangular frames of 512 (zero-padded), K = 85 components (85*216 = 18360 <= N)
F = 512
T = -(-L // F)
K = N // T
rng = np.random.default_rng(0)
tr = train_clips()
idx = rng.choice(len(tr), 256, replace=False)
frames = np.pad(np.asarray(tr[np.sort(idx)]), ((0, 0), (0, T * F - L))).reshape(-1, F)
_, _, vh = np.linalg.svd(frames - frames.mean(0), full_matrices=False)
mean = frames.mean(0)
V = vh[:K].T


def pca(x):
    f = np.pad(x.numpy(), ((0, 0), (0, T * F - L))).reshape(-1, F)
    r = (f - mean) @ V @ V.T + mean
    return torch.from_numpy(r.reshape(len(x), -1)[:, :L]).float()


log(f"ref_frame_pca_K{K}x{T}", evaluate(pca, test))
