"""The Autoencoder wrapper: exact latent layout, the data-dependent start, shapes in and out."""

import pytest
import torch
from torch import nn

from autoenc_audio.models.base import Autoencoder, DataInitialized, LatentLayout, fit_length, layout_for


@pytest.mark.parametrize("size, frames", [(512, 64), (500, 64), (7, 64), (18376, 217)])
def test_the_layout_holds_exactly_the_latent_size_in_the_fewest_channels(size, frames):
    layout = layout_for(size, frames)
    assert layout.channels * layout.frames - layout.unused == size
    assert 0 <= layout.unused < layout.frames
    assert layout.frames <= min(size, frames)


def test_a_layout_that_cannot_hold_its_size_is_refused():
    with pytest.raises(ValueError, match="does not fit 2 x 4"):
        LatentLayout(9, 2, 4)
    assert "the last channel covers the first 2 frames" in LatentLayout(6, 2, 4).describe()


class Doubling(DataInitialized):
    """An encoder whose start is fitted to data: it records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 4, stride=4)
        self.seen = None

    def forward(self, audio):
        return self.conv(audio)

    def initialize_from_data(self, audio, autoencoder):
        self.seen = (audio.shape, autoencoder)


def test_only_parts_that_declare_a_data_start_are_initialised_and_shapes_round_trip():
    encoder = Doubling()
    model = Autoencoder(encoder, nn.ConvTranspose1d(2, 1, 4, stride=4), layout_for(7, 4), 16, False, frame_hop=4)
    batch = torch.randn(3, 1, 16)
    model.initialize_from_data(batch)  # the plain decoder has no data start and is left alone
    assert encoder.seen == (batch.shape, model)
    latent = model.encode(batch)
    assert latent.shape == (3, 7)
    assert model.decode(latent).shape == (3, 1, 16)
    assert torch.equal(model.latent_of(model.frames_of(latent)), latent)
    with pytest.raises(ValueError, match=r"latent must be \[batch, 7\]"):
        model.decode(torch.zeros(3, 8))


def test_fit_length_crops_or_pads_the_last_axis():
    audio = torch.arange(6.0).view(1, 1, 6)
    assert fit_length(audio, 4).tolist() == [[[0, 1, 2, 3]]]
    assert fit_length(audio, 8).tolist() == [[[0, 1, 2, 3, 4, 5, 0, 0]]]
