#!/usr/bin/env bash
# Hashes of what aea writes for a fixed seed: a tiny training run's weights, encode, decode, reconstruct and
# generate outputs. Run before and after a change that must not change behaviour (a refactor) and diff the two.
#   bench/behaviour_hashes.sh > before.txt; ...; bench/behaviour_hashes.sh > after.txt; diff before.txt after.txt
set -euo pipefail
AEA=${AEA:-.venv/bin/aea}  # a command, may carry arguments: AEA="python -m autoenc_audio"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 AEA_CACHE="$WORK/cache"
hash() { sha256sum "$@" | sed "s|$WORK/||"; }
$AEA synth "$WORK/corpus" --tracks 10 --seconds 3 --seed 0 >/dev/null
$AEA train --data "$WORK/corpus" --config tiny --seed 0 --epochs 2 --device cpu --out "$WORK/run" >/dev/null 2>&1
$AEA info "$WORK/run" --json | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print("weights_fingerprint", d.get("weights_fingerprint") or d.get("fingerprint"))'
$AEA encode "$WORK/corpus/"*/*.00000.wav --model "$WORK/run" -o "$WORK/latents.npz" >/dev/null 2>&1
python3 - "$WORK/latents.npz" <<'PY'
import hashlib, sys, numpy as np
with np.load(sys.argv[1]) as data:
    print("latents", hashlib.sha256(np.ascontiguousarray(data["latents"]).tobytes()).hexdigest())
PY
$AEA decode "$WORK/latents.npz" --model "$WORK/run" -o "$WORK/decoded" >/dev/null 2>&1
hash "$WORK/decoded/"*.wav
$AEA reconstruct "$(ls "$WORK/corpus/"*/*.00001.wav | head -1)" --model "$WORK/run" -o "$WORK/recon.wav" >/dev/null 2>&1
hash "$WORK/recon.wav"
$AEA train-prior --model "$WORK/run" --epochs 3 --seed 0 >/dev/null 2>&1
A=$(ls "$WORK/corpus/"*/*.00000.wav | head -1); B=$(ls "$WORK/corpus/"*/*.00000.wav | tail -1)
$AEA generate --model "$WORK/run" --mode random --seconds 3 --n 2 --seed 1 -o "$WORK/random" >/dev/null 2>&1
$AEA generate --model "$WORK/run" --mode continue --from "$A" --seconds 3 --seed 1 -o "$WORK/continue.wav" >/dev/null 2>&1
$AEA generate --model "$WORK/run" --mode average --from "$A" "$B" --seconds 3 --seed 1 -o "$WORK/average.wav" >/dev/null 2>&1
$AEA generate --model "$WORK/run" --mode interpolate --from "$A" "$B" --steps 3 -o "$WORK/morph.wav" >/dev/null 2>&1
$AEA generate --model "$WORK/run" --mode random --method gaussian --seconds 2 --seed 1 -o "$WORK/gauss.wav" >/dev/null 2>&1
hash "$WORK/random/"*.wav "$WORK/continue.wav" "$WORK/average.wav" "$WORK/morph-"*.wav "$WORK/gauss.wav"
