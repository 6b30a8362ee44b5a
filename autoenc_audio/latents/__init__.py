"""Latent vectors: encoding files, decoding latent files, reconstructing, in batches.

Everything works in batches so memory stays at one batch of audio whatever the
number or length of the inputs. Shapes: clips `[count, 1, clip_samples]`,
latents `[count, latent_size]`.

Whole tracks (`whole=True`) are cut into clips at starts 0, hop, 2 hop, ...
(default hop: half a clip, so clips overlap by 50 %; the last clip is
zero-padded) and streamed from the file (`tracks.TrackClips`). Decoding joins
the clips back by weighted overlap-add (`OverlapAdd`): each clip is faded in
and out over the overlap with raised-cosine (sin^2 / cos^2) ramps, which at
50 % overlap is a Hann window, and the sum is divided by the sum of the
windows. The windows sum to exactly one (first clip without fade-in, last
without fade-out), so joining the original clips gives back the original track
sample for sample, and reconstructions cross-fade smoothly with no seams.
"""
