import numpy as np
import torch
from common import SR, L, test_clips, train_clips

from autoenc_audio import metrics
from autoenc_audio.config import ModelConfig
from autoenc_audio.models import frame

torch.set_num_threads(2)
frame.PCA_ALPHA = 0.5
tr = train_clips()
rng = np.random.default_rng(0)
m = frame.build_frame(ModelConfig(blocks=0), L)
m.initialize_from_data(torch.from_numpy(np.asarray(tr[np.sort(rng.choice(len(tr), 128, replace=False))]))[:, None])
m.eval()
x = test_clips(32)
with torch.no_grad():
    y = m(x[:, None])["recon"][:, 0]
X = metrics.stft_magnitude(x, 1024)
Y = metrics.stft_magnitude(y, 1024)
e = (torch.log(X + 1e-7) - torch.log(Y + 1e-7)).abs()
print("total", e.mean().item())
# by frequency band (8 bands of 64 bins)
for b in range(8):
    s = slice(b * 64, (b + 1) * 64)
    print(
        "band",
        b * 64 * SR / 1024,
        "Hz contrib",
        (e[:, s].sum() / e.numel()).item(),
        "mean",
        e[:, s].mean().item(),
        "recon<ref share",
        ((Y[:, s] < X[:, s]).float().mean().item()),
    )
q = torch.quantile(X.flatten()[::97], torch.linspace(0, 1, 11))
for i in range(10):
    mk = (X >= q[i]) & (X < q[i + 1])
    print(
        "decile",
        i,
        f"{q[i].item():.1e}",
        "contrib",
        (e[mk].sum() / e.numel()).item(),
        "mean",
        e[mk].mean().item(),
        "under",
        (Y[mk] < X[mk]).float().mean().item(),
    )
