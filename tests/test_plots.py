"""Figures from the library: the right format and size, clear errors on bad input."""

import struct

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
import torch

from autoenc_audio.plots import audio, figure, history, latents

RATE = 8000


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def signal(seconds=1.0, freq=440.0):
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * (t % 0.25))).astype(np.float32)


def drawn_figure(monkeypatch, module):
    """The figure `module` saves next, kept for the test to look at (as a user would, at what is drawn)."""
    kept = {}
    real_save = module.save_figure

    def keep(figure, path, fmt=None):
        kept["figure"] = figure
        return real_save(figure, path, fmt)

    monkeypatch.setattr(module, "save_figure", keep)
    return kept


def panels(figure):
    """The axes that carry a title (colour bars carry none)."""
    return [axis for axis in figure.axes if axis.get_title(loc="left")]


def test_compare_figure_has_the_requested_size(tmp_path):
    x = signal()
    y = torch.from_numpy(x * 0.8)
    path = audio.plot_compare(x, y, RATE, {"snr_db": 12.3, "mrstft": 1.1}, tmp_path / "c.png", size=(900, 600))
    assert path == tmp_path / "c.png" and png_size(path) == (900, 600)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves nothing behind


def test_compare_of_a_silent_original_scales_colours_to_the_reconstruction(tmp_path, monkeypatch):
    drawn = {}
    real_save = audio.save_figure

    def keep(figure, path, fmt=None):
        drawn["limits"] = [
            axis.collections[0].get_clim() for axis in figure.axes if "spectrogram" in axis.get_title(loc="left")
        ]
        drawn["zoom"] = [axis.get_xlim() for axis in figure.axes if axis.get_title(loc="left").startswith("zoom")][0]
        return real_save(figure, path, fmt)

    monkeypatch.setattr(audio, "save_figure", keep)
    hum = signal()
    hum[int(0.7 * RATE)] = 0.9  # the reconstruction's peak, at 700 ms
    audio.plot_compare(np.zeros_like(hum), hum, RATE, {}, tmp_path / "c.png")
    assert drawn["zoom"][0] < 700 < drawn["zoom"][1]  # the zoom shows the reconstruction's peak, not sample 0
    top = float(audio.spectrogram_db(hum, RATE)[0].max())
    assert len(drawn["limits"]) == 2
    for low, high in drawn["limits"]:  # the reconstruction's spectrum lies inside the scale, not above it
        assert high == pytest.approx(top) and low < top - 40


def test_waveforms_and_spectrograms(tmp_path):
    signals = [("a", signal(), RATE), ("b", signal(2.0, 220.0), RATE)]
    assert png_size(audio.plot_waveforms(signals, tmp_path / "w.png", size=(800, 500))) == (800, 500)
    for scale in ("log", "mel"):
        assert png_size(audio.plot_spectrograms(signals, tmp_path / f"s-{scale}.png", scale, size=(700, 400))) == (
            700,
            400,
        )


def test_formats_follow_the_option_or_extension(tmp_path):
    signals = [("a", signal(), RATE)]
    svg = audio.plot_waveforms(signals, tmp_path / "w", fmt="svg")
    assert svg.name == "w.svg" and b"<svg" in svg.read_bytes()[:400]
    pdf = audio.plot_waveforms(signals, tmp_path / "w.pdf", fmt="pdf")
    assert pdf.name == "w.pdf" and pdf.read_bytes()[:4] == b"%PDF"
    assert audio.plot_waveforms(signals, tmp_path / "noext").name == "noext.png"
    assert audio.plot_waveforms(signals, tmp_path / "W.SVG").name == "W.SVG"  # the file named, as named


def test_a_format_the_extension_contradicts_is_refused_and_nothing_written(tmp_path):
    """`-o fig.svg --format png` wrote fig.png, over whatever was there, and no fig.svg."""
    (tmp_path / "fig.png").write_text("my precious")
    signals = [("a", signal(), RATE)]
    for named, fmt in (("fig.svg", "png"), ("fig.png", "svg"), ("fig.jpg", "png")):
        with pytest.raises(figure.PlotError) as caught:
            audio.plot_waveforms(signals, tmp_path / named, fmt=fmt)
        said = named.rpartition(".")[2]
        assert str(caught.value) == (
            f"{tmp_path / named}: the extension says {said}, the format asked for is {fmt}; give one"
            if said != "jpg"
            else f"{tmp_path / named}: jpg figures are not supported: use .png, .svg or .pdf"
        )
    assert [path.name for path in tmp_path.iterdir()] == ["fig.png"]
    assert (tmp_path / "fig.png").read_text() == "my precious"


def test_history_and_latent_map(tmp_path):
    records = [
        {
            "epoch": e,
            "train_loss": 3 - e * 0.3,
            "val_loss": 3.2 - e * 0.3,
            "val_snr_db": e,
            "val_mrstft": 2 - e * 0.1,
            "val_mel_l1": 1 - e * 0.05,
            "best": True,
        }
        for e in range(1, 6)
    ]
    assert png_size(
        history.plot_history([("a", records), ("b", records[:3])], tmp_path / "h.png", size=(1000, 700))
    ) == (
        1000,
        700,
    )
    points = np.random.default_rng(0).normal(size=(40, 3))
    labels = ["x"] * 20 + ["y"] * 20
    assert png_size(
        latents.plot_latent_map(points[:, :2], labels, tmp_path / "m2.png", "map", ["a", "b"], size=(600, 500))
    ) == (600, 500)
    assert png_size(latents.plot_latent_map(points, labels, tmp_path / "m3.png", "map", ["a", "b", "c"])) == (1000, 800)


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(figure.PlotError, match="samples"):
        audio.plot_compare(signal(), signal()[:100], RATE, {}, tmp_path / "x.png")
    with pytest.raises(figure.PlotError, match="NaN"):
        audio.plot_waveforms([("a", np.array([0.0, np.nan]), RATE)], tmp_path / "x.png")
    with pytest.raises(figure.PlotError, match="too small"):
        audio.plot_waveforms([("a", signal(), RATE)], tmp_path / "x.png", size=(10, 10))
    with pytest.raises(figure.PlotError, match="format"):
        audio.plot_waveforms([("a", signal(), RATE)], tmp_path / "x.png", fmt="gif")
    with pytest.raises(figure.PlotError):
        history.plot_history([], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_latent_map_legend_lists_a_label_seen_only_in_test_clips(tmp_path, monkeypatch):
    drawn = {}
    real_save = latents.save_figure

    def keep(figure, path, fmt=None):
        drawn["legend"] = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        return real_save(figure, path, fmt)

    monkeypatch.setattr(latents, "save_figure", keep)
    points = np.random.default_rng(0).normal(size=(6, 2))
    latents.plot_latent_map(
        points,
        ["a", "a", "b", "b", "c", "c"],
        tmp_path / "m.png",
        "map",
        ["x", "y"],
        markers=[False, True, False, False, True, True],
    )
    assert drawn["legend"] == ["a (2)", "b (2)", "c (2)"]


@pytest.mark.parametrize("scale", ["log", "mel"])
def test_spectrograms_at_different_rates_each_show_their_whole_range(tmp_path, monkeypatch, scale):
    """A 44.1 kHz song and a decoded 8 kHz clip: both panels reach 22 kHz, in either order."""
    kept = drawn_figure(monkeypatch, audio)
    song = np.random.default_rng(0).normal(size=44100).astype(np.float32) * 0.1
    for signals in (
        [("song", song, 44100), ("z.pt", signal(), RATE)],
        [("z.pt", signal(), RATE), ("song", song, 44100)],
    ):
        audio.plot_spectrograms(signals, tmp_path / "s.png", scale)
        drawn = panels(kept["figure"])
        assert len(drawn) == 2
        for axis in drawn:
            low, high = axis.get_ylim()
            assert high > 20000 and low < 100
        note = [axis.get_title(loc="left") for axis in drawn if "8000 Hz" in axis.get_title(loc="left")]
        assert note == ["z.pt  (8000 Hz: nothing above 4 kHz)"]


def test_a_silent_file_is_drawn_dark_and_called_silent(tmp_path, monkeypatch):
    kept = drawn_figure(monkeypatch, audio)
    audio.plot_spectrograms([("silence.wav", np.zeros(RATE, np.float32), RATE)], tmp_path / "s.png")
    (axis,) = panels(kept["figure"])
    low, high = axis.collections[0].get_clim()
    assert low == pytest.approx(audio.SILENCE_DB)  # the silence sits at the bottom of the scale: the darkest colour
    assert high - low == pytest.approx(audio.DB_FLOOR)
    assert axis.get_title(loc="left") == "silence.wav  (silent)"


def test_quiet_audio_keeps_its_own_scale_and_a_piece_of_a_few_frames_is_drawn(tmp_path, monkeypatch):
    """Only all-silent images are anchored at the silence floor; 400 samples (4 frames) still draw."""
    kept = drawn_figure(monkeypatch, audio)
    quiet = 1e-4 * np.sin(np.arange(RATE) * 0.3).astype(np.float32)  # about -80 dBFS: quiet, not silent
    audio.plot_spectrograms([("quiet.wav", quiet, RATE)], tmp_path / "q.png")
    low, high = panels(kept["figure"])[0].collections[0].get_clim()
    assert high < audio.SILENCE_DB + audio.DB_FLOOR and high - low == pytest.approx(audio.DB_FLOOR)
    audio.plot_spectrograms([("piece.wav", quiet[:400] * 1e4, RATE)], tmp_path / "p.png")
    assert panels(kept["figure"])[0].get_title(loc="left") == "piece.wav"


def test_audio_shorter_than_a_window_is_refused_naming_it_and_the_minimum(tmp_path):
    with pytest.raises(figure.PlotError) as caught:
        audio.plot_spectrograms([("click.wav", np.full(1, 0.5, np.float32), RATE)], tmp_path / "s.png")
    assert str(caught.value) == "click.wav: 1 sample is too short for a spectrogram: at least 128 (16 ms at 8000 Hz)"
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("epochs", [1, 2])
def test_a_short_run_has_whole_epoch_ticks(tmp_path, monkeypatch, epochs):
    """A 1-epoch run's axis read 0.945, 0.960 ... 1.050."""
    kept = drawn_figure(monkeypatch, history)
    records = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_snr_db": float(e)} for e in range(1, epochs + 1)
    ]
    history.plot_history([("run", records)], tmp_path / "h.png")
    for axis in kept["figure"].axes:
        low, high = axis.get_xlim()
        shown = [tick for tick in axis.xaxis.get_major_locator()() if low <= tick <= high]
        assert shown == list(range(1, epochs + 1))


@pytest.mark.parametrize("low, high", [(0.15, 0.7), (0.3, 0.33), (0.02, 0.9), (1e-6, 1.0)])
def test_latent_statistics_std_labels_do_not_overlap(tmp_path, monkeypatch, low, high):
    """The log std axis printed "2x10^-1 3x10^-1 4x10^-1 6x10^-1" on top of each other."""
    kept = drawn_figure(monkeypatch, latents)
    std = np.geomspace(low, high, 64)
    latents.plot_latent_statistics(np.zeros(64), std, 0, tmp_path / "s.png", "statistics")
    figure = kept["figure"]
    figure.canvas.draw()
    axis = figure.axes[1]
    start, stop = axis.get_xlim()

    def shown(labels):
        return [label for label in labels if label.get_text() and start <= label.get_position()[0] <= stop]

    assert not shown(axis.get_xticklabels(minor=True))  # minor labels were what crowded together
    boxes = sorted(
        (label.get_window_extent().x0, label.get_window_extent().x1) for label in shown(axis.get_xticklabels())
    )
    assert len(boxes) >= 2  # the axis still says what the values are
    assert all(left[1] + 5 < right[0] for left, right in zip(boxes, boxes[1:]))  # a gap of 5 pixels between labels


@pytest.mark.parametrize("rate, high", [(48000, 15000.0), (22050, 9000.0)])
def test_a_steady_high_tone_is_drawn_across_its_whole_length(tmp_path, monkeypatch, rate, high):
    """1 kHz for 2 s, then a quieter high tone for 2 s: in the PNG the high tone's pixel row is bright all along,
    not only at its onset and offset (bins crowd 10-20 to a pixel row up there on a log axis)."""
    kept = drawn_figure(monkeypatch, audio)
    t = np.arange(4 * rate) / rate
    tones = np.where(t < 2, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.3 * np.sin(2 * np.pi * high * t)).astype(np.float32)
    path = audio.plot_spectrograms([("tones.wav", tones, rate)], tmp_path / "s.png")
    pixels = matplotlib.image.imread(path)[..., :3].mean(-1)  # brightness, 0 (black) to 1 (white), top row first
    (axis,) = panels(kept["figure"])

    def brightest_near(seconds, hz):  # the tone's pixel row and the one either side, as the eye sees it
        x, y = axis.transData.transform((seconds, hz))
        row = pixels.shape[0] - int(round(y))
        return pixels[row - 1 : row + 2, int(round(x))].max()

    along = [brightest_near(seconds, high) for seconds in np.linspace(2.2, 3.8, 17)]
    assert min(along) > 0.6, along  # magma's bright end, like the 1 kHz tone
    assert brightest_near(1.0, 1000) > 0.6 and brightest_near(1.0, high) < 0.2  # and dark before it starts


def test_mel_frequency_labels_of_a_48k_file_do_not_overlap(tmp_path, monkeypatch):
    kept = drawn_figure(monkeypatch, audio)
    noise = np.random.default_rng(0).normal(size=48000).astype(np.float32) * 0.1
    audio.plot_spectrograms([("song.wav", noise, 48000)], tmp_path / "s.png", "mel")
    (axis,) = panels(kept["figure"])
    renderer = kept["figure"]._get_renderer()
    boxes = [label.get_window_extent(renderer) for label in axis.get_yticklabels() if label.get_text()]
    assert len(boxes) >= 5
    assert not any(a.overlaps(b) for number, a in enumerate(boxes) for b in boxes[number + 1 :])


@pytest.mark.parametrize("scale", ["log", "mel"])
def test_a_tone_reads_its_level_in_dbfs_at_any_sample_rate(tmp_path, monkeypatch, scale):
    """One 1 kHz sine at -6 dBFS at 8, 22.05 and 48 kHz read +36, +41 and +48 dB: brightness followed the rate."""
    kept = drawn_figure(monkeypatch, audio)
    rates = (8000, 22050, 48000)
    signals = []
    for rate in rates:
        t = np.arange(2 * rate) / rate
        signals.append((f"{rate}.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), rate))
    audio.plot_spectrograms(signals, tmp_path / "s.png", scale)
    drawn = panels(kept["figure"])
    limits = {axis.collections[0].get_clim() for axis in drawn}
    assert len(limits) == 1  # one colour scale for all three panels
    ((low, high),) = limits
    tolerance = 1.5  # a tone between two bins reads up to 1.4 dB low (Hann scalloping); a mel band sums a few bins
    assert high == pytest.approx(-6.0, abs=tolerance) and high - low == pytest.approx(audio.DB_FLOOR)
    for _, samples, rate in signals:  # each panel's own peak, not just the loudest of the three
        image = audio.spectrogram_db(samples, rate, scale)[0]
        assert float(image[:, 4:-4].max()) == pytest.approx(-6.0, abs=tolerance), rate


def test_a_one_sample_click_in_a_long_waveform_is_drawn_at_full_contrast(tmp_path, monkeypatch):
    """A full-scale click in a 3 s file was a faint hairline (a one-block envelope spike, edge width 0), and at
    1.00 s it hid under the grid line: in the PNG its column is as dark as the waveform's colour."""
    kept = drawn_figure(monkeypatch, audio)
    rate = 22050
    clicks = np.zeros(3 * rate, np.float32)
    clicks[rate] = clicks[int(2.3 * rate)] = 1.0
    path = audio.plot_waveforms([("click.wav", clicks, rate)], tmp_path / "w.png")
    pixels = matplotlib.image.imread(path)[..., :3]
    (axis,) = panels(kept["figure"])
    colour = np.array(matplotlib.colors.to_rgb(figure.COLORS[0]))
    for seconds in (1.0, 2.3):
        x, y = axis.transData.transform((seconds, 0.5))  # half way up the click
        row, column = pixels.shape[0] - int(round(y)), int(round(x))
        nearest = np.abs(pixels[row, column - 2 : column + 3] - colour).sum(-1).min()
        assert nearest < 0.25, (seconds, pixels[row, column - 2 : column + 3])


def test_the_loss_legend_does_not_cover_the_curves(tmp_path, monkeypatch):
    """The legend sat at the upper right, over a loss that ends high (a run that diverged)."""
    kept = drawn_figure(monkeypatch, history)
    records = [{"epoch": e, "train_loss": 0.1 * e, "val_loss": 0.11 * e, "val_snr_db": float(e)} for e in range(1, 11)]
    history.plot_history([("run", records)], tmp_path / "h.png")
    figure = kept["figure"]
    figure.canvas.draw()
    axis = figure.axes[0]
    box = axis.get_legend().get_window_extent()
    points = [axis.transData.transform(xy) for line in axis.get_lines() for xy in line.get_xydata()]
    assert points and not any(box.contains(x, y) for x, y in points)
