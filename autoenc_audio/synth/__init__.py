"""A built-in, deterministic corpus of procedurally composed music.

Why it exists: the whole pipeline (loading, mono mixdown, resampling,
training, latent probes, genre classification) must run on a fresh clone
with no user audio. The tracks are therefore real music in miniature: each
has a key and mode, a chord progression, a tempo drawn from its style's
range, composed parts with velocity and envelopes, and a stereo mix with a
cheap reverb. The styles differ in timbre, register, rhythm, tempo and
density, so an autoencoder has structure to learn and a genre classifier
has something to separate.

Everything a track contains comes from one `numpy.random.Generator` seeded
from (seed, style), so a seed always gives the same samples and
`write_corpus` always gives byte-identical files.

Shapes: rendered audio is float32 `[samples, 2]` (stereo, 44.1 kHz by
default); voices render mono float32 `[samples]` and are panned into
stereo buses `[samples, 2]`.

Speed: every voice renders a whole note as one array and is added into its
bus. Karplus-Strong strings, the only recursive voice, are computed one
string period per numpy operation and cached per pitch, as are drum hits,
so a 30 s track takes a fraction of a second on one core.
"""
