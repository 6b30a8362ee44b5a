"""Decode Debian game-music tracks to 22050 Hz mono 5 s clips; split BY TRACK; cache .npy in bench/music/.

Sources: planetblupi-music-ogg (/usr/share/planetblupi/music/*.ogg), nexuiz-music and
ufoai-music (ogg inside .pk3 zips, extracted to /tmp/music_src). Test = every 5th track
in sorted-name order (by track, so no clip of a test track is in train).
"""

import glob
import os

import numpy as np
import soundfile as sf
import soxr

SR, CLIP = 22050, 110250
out = os.path.join(os.path.dirname(__file__), "..", "music")
files = sorted(glob.glob("/tmp/music_src/*.ogg") + glob.glob("/usr/share/planetblupi/music/*.ogg"))
train, test, names = [], [], {"train": [], "test": []}
for i, f in enumerate(files):
    try:
        audio, sr = sf.read(f, dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - skip any file the decoder cannot read, whatever the reason
        print("skip", f, e)
        continue
    mono = audio.mean(1)
    if sr != SR:
        mono = soxr.resample(mono, sr, SR).astype(np.float32)
    n = len(mono) // CLIP
    clips = [mono[k * CLIP : (k + 1) * CLIP] for k in range(n)]
    clips = [c for c in clips if np.sqrt((c**2).mean()) > 1e-3]  # drop silence
    split = "test" if i % 5 == 2 else "train"
    (test if split == "test" else train).extend(clips)
    names[split].append(os.path.basename(f))
    print(split, os.path.basename(f), sr, len(clips), flush=True)
np.save(os.path.join(out, "train.npy"), np.stack(train))
np.save(os.path.join(out, "test.npy"), np.stack(test))
open(os.path.join(out, "split.txt"), "w").write("\n".join(f"{k} {n}" for k in names for n in names[k]))
print("train", len(train), "test", len(test), "tracks", len(names["train"]), len(names["test"]))
