#!/usr/bin/env bash
# The CUDA paths end to end, on a machine with an NVIDIA GPU (run by hand; CI has none):
# make demo's pipeline on cuda (model, prior, every generation mode, score), an exact prior
# resume on cuda, cuda-vs-cpu generation of the same seed, and training throughput of the
# default model at N = 18376. Writes its log and JSON under ${OUT:-bench/.runs/cuda}.
set -uo pipefail
OUT=${OUT:-bench/.runs/cuda}
mkdir -p "$OUT"
PY=${PY:-python3}
RUN=/tmp/aea-cuda-demo
export AEA_CACHE=/tmp/aea-cache PYTHONUNBUFFERED=1
nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
$PY -m autoenc_audio demo --out $RUN --overwrite --minutes 1 > "$OUT/demo.log" 2>&1 || { tail -n 30 "$OUT/demo.log"; exit 1; }
tail -n 25 "$OUT/demo.log"
$PY -m autoenc_audio info $RUN | tail -n 20
# exact resume of the prior on cuda: 2 + 2 epochs against 4 straight
cp -r $RUN /tmp/aea-a; cp -r $RUN /tmp/aea-b
$PY -m autoenc_audio train-prior --model /tmp/aea-a --epochs 4 --overwrite --device cuda --json | tail -n 1
$PY -m autoenc_audio train-prior --model /tmp/aea-b --epochs 2 --overwrite --device cuda --json | tail -n 1
$PY -m autoenc_audio train-prior --model /tmp/aea-b --epochs 4 --resume --device cuda --json | tail -n 1
$PY - <<'PY'
from safetensors.torch import load_file
a, b = load_file("/tmp/aea-a/prior.safetensors"), load_file("/tmp/aea-b/prior.safetensors")
worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
print(f"prior resume on cuda: {len(a)} tensors, largest difference {worst:.3g}")
PY
for device in cuda cpu; do
  $PY -m autoenc_audio generate --model $RUN --mode random --seconds 10 --seed 3 --device $device -o /tmp/g-$device.wav
  $PY -m autoenc_audio generate --model $RUN --mode continue --from $RUN/reconstruction.input.wav --seconds 10 --seed 3 --device $device -o /tmp/c-$device.wav
done
$PY - <<'PY'
import soundfile, numpy as np
for name in ("g", "c"):
    try:
        a, b = soundfile.read(f"/tmp/{name}-cuda.wav")[0], soundfile.read(f"/tmp/{name}-cpu.wav")[0]
    except Exception as error:
        print(name, "missing", error); continue
    print(f"{name}: cuda vs cpu, {len(a)} / {len(b)} samples, largest difference {np.abs(a - b).max():.3g}")
PY
cp $RUN/score.json "$OUT/score.json" 2>/dev/null || true
$PY bench/cuda_throughput.py > "$OUT/throughput.json"
cat "$OUT/throughput.json"
