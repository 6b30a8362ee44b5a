"""Latent vectors: encoding files, decoding latent files, reconstructing, in batches.

Everything works in batches so memory stays at one batch of audio whatever the
number or length of the inputs. Shapes: clips `[count, 1, clip_samples]`,
latents `[count, latent_size]`.

Whole tracks (`whole=True`) are cut into clips at starts 0, hop, 2 hop, ...
(default hop: half a clip, so clips overlap by 50 %; the last clip is
zero-padded) and streamed from the file (`audio.TrackClips`). Decoding joins
the clips back by weighted overlap-add (`OverlapAdd`): each clip is faded in
and out over the overlap with raised-cosine (sin^2 / cos^2) ramps, which at
50 % overlap is a Hann window, and the sum is divided by the sum of the
windows. The windows sum to exactly one (first clip without fade-in, last
without fade-out), so joining the original clips gives back the original track
sample for sample, and reconstructions cross-fade smoothly with no seams.
"""

from .batches import batches, decode_latents, encode_clips, reconstruct_clips, reconstruction_metrics
from .decode import decode_file, write_joined
from .encode import EncodeResult, EncodedInput, encode_inputs
from .inputs import clip_crop, expand_inputs, hop_samples, single_input
from .model import check_size, fingerprint_warning, model_device, model_fields, open_model
from .outputs import Written, input_path_for, is_folder_target, output_paths, stem_of
from .overlap import OverlapAdd, join_clips
from .plotting import plot_reconstruction
from .reconstruct import reconstruct_inputs
from .reporting import INPUT_FAILURES, LatentError, LatentSizeError, NoUsableInput, OnError, Progress
from .track_metrics import TrackMetrics

__all__ = [
    "EncodeResult",
    "EncodedInput",
    "INPUT_FAILURES",
    "LatentError",
    "LatentSizeError",
    "NoUsableInput",
    "OnError",
    "OverlapAdd",
    "Progress",
    "TrackMetrics",
    "Written",
    "batches",
    "check_size",
    "clip_crop",
    "decode_file",
    "decode_latents",
    "encode_clips",
    "encode_inputs",
    "expand_inputs",
    "fingerprint_warning",
    "hop_samples",
    "input_path_for",
    "is_folder_target",
    "join_clips",
    "model_device",
    "model_fields",
    "open_model",
    "output_paths",
    "plot_reconstruction",
    "reconstruct_clips",
    "reconstruct_inputs",
    "reconstruction_metrics",
    "single_input",
    "stem_of",
    "write_joined",
]
