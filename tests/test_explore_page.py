"""The explore page in Debian's Chromium, driven by Playwright's Python package (never its own browser download):
the self-test from file:// and from a loopback server, no console errors, and each control changes the latent as
docs/explore.md says, read through the page's test hook `window.aeaExplore.state`.

Skipped, saying why, without chromium or playwright. Slow: each test starts Chromium.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from autoenc_audio.cli import cli
from autoenc_audio.explore import vendoring
from autoenc_audio.explore.payload import read_script, unpack

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def write_site(model, root, songs, *extra) -> None:
    args = ["explore", str(model), "-o", str(root / "site"), "--data", str(songs), "--cache-dir", str(root / "cache")]
    result = CliRunner().invoke(cli, [*args, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def site(tmp_path_factory, write_songs, make_run_with_prior):
    """The site of a tiny trained run with a prior: 6 clips, 2 pieces of 2.5 s from the prior."""
    if not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file():
        pytest.skip(f"the browser runtime is not vendored: {vendoring.GET_IT}")
    root = tmp_path_factory.mktemp("explore-page")
    songs = write_songs(root / "songs")
    run = make_run_with_prior(songs, root / "cache", root / "run")
    write_site(run, root, songs, "--clips", "6", "--pieces", "2", "--piece-seconds", "2.5")
    return root / "site"


@pytest.fixture(scope="module")
def site_without_prior(tmp_path_factory, write_songs, make_checkpoint):
    """The site of an untrained tiny checkpoint (no prior beside it): 2 clips."""
    if not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file():
        pytest.skip(f"the browser runtime is not vendored: {vendoring.GET_IT}")
    root = tmp_path_factory.mktemp("explore-page-no-prior")
    songs = write_songs(root / "songs")
    write_site(make_checkpoint(songs, root / "cache", root / "model.safetensors"), root, songs, "--clips", "2")
    return root / "site"


@pytest.fixture(scope="module")
def server(site):
    """A loopback static server of the site folder, as `python -m http.server` serves it."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def open_page(chromium, url):
    """(page, problems): the page loaded until ready, and every console error or uncaught exception it shows."""
    page = chromium.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # a player given a new sound drops the load of the old one (net::ERR_ABORTED): superseded, not failed
    page.on(
        "requestfailed",
        lambda request: (
            None
            if request.failure == "net::ERR_ABORTED"
            else problems.append(f"failed request {request.url}: {request.failure}")
        ),
    )
    page.goto(url)
    page.wait_for_function("window.aeaExplore && (window.aeaExplore.state.ready || window.aeaExplore.state.error)")
    return page, problems


def selftest_line(page) -> str:
    page.wait_for_function("document.getElementById('selftest').textContent.startsWith('selftest:')")
    return page.text_content("#selftest")


def check_selftest(line: str) -> None:
    words = line.split()
    assert words[:2] == ["selftest:", "ok"], line
    assert float(words[2]) <= 1e-4 and float(words[3]) >= 0


def test_the_selftest_passes_from_a_file_with_no_console_errors(site, chromium):
    page, problems = open_page(chromium, (site / "index.html").as_uri() + "?selftest")
    check_selftest(selftest_line(page))
    assert problems == []
    page.close()


def test_the_selftest_passes_from_a_loopback_server_with_no_console_errors(site, chromium, server):
    page, problems = open_page(chromium, server + "index.html?selftest")
    check_selftest(selftest_line(page))
    assert problems == []
    page.close()


def test_chromium_dump_dom_prints_the_selftest_line(site):
    """The documented one-liner: `chromium --headless --dump-dom --virtual-time-budget=...` (times read 0 there)."""
    if CHROMIUM is None:
        pytest.skip("no chromium here")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "--virtual-time-budget=600000",
            (site / "index.html").as_uri() + "?selftest",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next(row for row in done.stdout.splitlines() if 'id="selftest"' in row)
    check_selftest(line.split(">", 1)[1].split("<", 1)[0])


def latent(page, expression: str = "window.aeaExplore.state.current") -> np.ndarray:
    return np.array(page.evaluate(f"Array.from({expression})"), dtype=np.float64)


def until_decoded(page, action) -> None:
    """Do `action`, then wait until the page decoded once more (what a person hears next)."""
    before = page.evaluate("window.aeaExplore.state.decodes")
    action()
    page.wait_for_function(f"window.aeaExplore.state.decodes > {before} && document.getElementById('now').textContent")


def test_each_control_changes_the_latent_as_documented(site, chromium):
    page, problems = open_page(chromium, (site / "index.html").as_uri())
    latents = unpack(read_script(site / "data" / "latents.js")[1]).astype(np.float64)
    statistics = read_script(site / "data" / "statistics.js")[1]
    directions, std = unpack(statistics["directions"]), statistics["direction_std"]
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-5)

    # a clip from the list: its stored latent
    until_decoded(page, lambda: page.select_option("#song-list", "2"))
    close(latent(page), latents[2])
    # each slider: the clip's latent plus value x that direction's std x the unit direction
    for k in range(len(directions)):
        until_decoded(page, lambda k=k: page.fill(f"#direction-{k}", "1.5"))
        close(latent(page) - latent(page, "window.aeaExplore.state.base"), 1.5 * std[k] * directions[k] + 0 * k)
        until_decoded(page, lambda k=k: page.fill(f"#direction-{k}", "0"))
    close(latent(page), latents[2])
    # the average of the selected clips
    page.select_option("#song-list", ["1", "3", "4"])
    until_decoded(page, lambda: page.click("#average"))
    close(latent(page), latents[[1, 3, 4]].mean(0))
    # the morph: (1 - t) a + t b
    page.select_option("#morph-a", "0")
    page.select_option("#morph-b", "5")
    until_decoded(page, lambda: page.fill("#morph", "0.25"))
    close(latent(page), 0.75 * latents[0] + 0.25 * latents[5])
    # random: the fitted Gaussian mean + T std eps, and the naive N(0, 1) control, eps ~ N(0, 1) by its seed
    gaussian_mean, gaussian_std = unpack(statistics["gaussian_mean"]), unpack(statistics["gaussian_std"])
    page.fill("#temperature", "0.5")
    page.fill("#seed", "7")
    until_decoded(page, lambda: page.click("#random-gaussian"))
    noise = latent(page, "window.aeaExplore.state.noise")
    close(latent(page), gaussian_mean + 0.5 * gaussian_std * noise)
    assert abs(noise.mean()) < 0.2 and 0.8 < noise.std() < 1.2
    assert "fitted Gaussian" in page.text_content("#now") and "seed 7" in page.text_content("#now")
    until_decoded(page, lambda: page.click("#random-naive"))
    naive = latent(page)
    close(naive, latent(page, "window.aeaExplore.state.noise"))
    assert "N(0, 1)" in page.text_content("#now") and not np.allclose(naive, noise)  # seed 8: another vector
    # the same seed gives the same vector
    page.fill("#seed", "7")
    until_decoded(page, lambda: page.click("#random-naive"))
    close(latent(page), noise)
    assert problems == []
    page.close()


def test_the_downloads_are_a_wav_of_what_plays_and_a_latent_aea_decode_takes(site, chromium, tmp_path):
    import soundfile

    from autoenc_audio.latents.files import load_latents

    page, _ = open_page(chromium, (site / "index.html").as_uri())
    with page.expect_download() as wav_download:
        page.click("#download-wav")
    with page.expect_download() as npy_download:
        page.click("#download-npy")
    wav, npy = tmp_path / "decoded.wav", tmp_path / "latent.npy"
    wav_download.value.save_as(wav)
    npy_download.value.save_as(npy)
    site_data = read_script(site / "data" / "site.js")[1]
    info = soundfile.info(str(wav))
    assert (info.samplerate, info.frames) == (site_data["sample_rate"], site_data["clip_samples"])
    latents = unpack(read_script(site / "data" / "latents.js")[1])
    np.testing.assert_allclose(load_latents(npy).matrix.numpy().reshape(-1), latents[0], rtol=1e-6)
    page.close()


def test_the_priors_pieces_play_marked_as_made_by_it_each_with_its_spectrogram_once_played(site, chromium):
    page, problems = open_page(chromium, (site / "index.html").as_uri())
    pieces = read_script(site / "data" / "site.js")[1]["prior"]["pieces"]
    assert len(pieces) == 2 and page.locator("#prior-pieces audio").count() == 2
    for n, piece in enumerate(pieces):
        caption = page.text_content(f"#piece-{n}-caption")
        assert "made by the prior" in caption and f"seed {piece['seed']}" in caption
        assert page.get_attribute(f"#piece-{n}-audio", "aria-labelledby") == f"piece-{n}-caption"
    assert "made by the run's prior" in page.text_content("#prior-note")
    assert page.is_hidden("#piece-0-spectrogram") and page.is_hidden("#piece-1-spectrogram")
    page.evaluate("document.getElementById('piece-1-audio').play()")
    page.wait_for_function("window.aeaExplore.state.pieceSpectrograms === 1")
    assert page.is_visible("#piece-1-spectrogram") and page.is_hidden("#piece-0-spectrogram")
    spread = page.evaluate(
        """(() => {
            const canvas = document.getElementById('piece-1-spectrogram');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let low = 255, high = 0;
            for (let i = 0; i < pixels.length; i += 4) { low = Math.min(low, pixels[i]); high = Math.max(high, pixels[i]); }
            return high - low;
        })()"""
    )
    assert spread > 100, "the spectrogram is drawn, not a blank canvas"
    assert page.evaluate("document.getElementById('piece-1-audio').duration") == pytest.approx(2.5, abs=0.05)
    assert problems == []
    page.close()


def test_a_page_without_a_prior_has_no_pieces_and_says_how_to_train_one(site_without_prior, chromium):
    page, problems = open_page(chromium, (site_without_prior / "index.html").as_uri())
    assert page.locator("#prior-pieces audio").count() == 0
    assert "aea train-prior" in page.text_content("#prior-note")
    assert problems == []
    page.close()


NAMED = """() => [...document.querySelectorAll('input, select, button, textarea, audio, canvas[tabindex]')]
    .filter(el => !el.closest('[hidden]'))
    .map(el => ({id: el.id || el.outerHTML.slice(0, 60),
                 named: Boolean(el.labels && el.labels.length) || Boolean(el.getAttribute('aria-label'))
                        || Boolean(el.getAttribute('aria-labelledby')) || Boolean(el.textContent.trim())
                        || Boolean(el.getAttribute('title'))}))"""


def test_every_control_has_a_name_and_the_keyboard_moves_a_direction(site, chromium):
    """A screen reader names each control (label, aria-label or text); Tab reaches the first direction slider and the
    arrow keys move it, which decodes the moved latent, as a drag does."""
    page, problems = open_page(chromium, (site / "index.html").as_uri())
    controls = page.evaluate(NAMED)
    assert len(controls) > 15
    assert [c["id"] for c in controls if not c["named"]] == []
    for _ in range(60):  # Tab through the page until the first slider has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "direction-0":
            break
    assert page.evaluate("document.activeElement.id") == "direction-0"
    until_decoded(page, lambda: [page.keyboard.press("ArrowRight") for _ in range(3)])
    moved = latent(page) - latent(page, "window.aeaExplore.state.base")
    assert np.abs(moved).max() > 0
    assert problems == []
    page.close()


@pytest.fixture
def incomplete_site(site_without_prior, tmp_path):
    """incomplete_site(file) -> a copy of the site without `file` (a folder half copied or half uploaded)."""

    def without(file: str):
        copy = tmp_path / "site"
        shutil.copytree(site_without_prior, copy)
        (copy / file).unlink()
        return copy

    return without


def not_found(problems: list[str]) -> list[str]:
    """`problems` but the browser's own line for a script the folder lacks (the point of the test)."""
    return [problem for problem in problems if "ERR_FILE_NOT_FOUND" not in problem]


@pytest.mark.parametrize(
    "missing",
    ["data/decoder.js", "data/latents.js", "data/statistics.js", "runtime/ort-wasm.js", "runtime/ort.wasm.min.js"],
)
def test_a_folder_missing_a_file_says_which_and_the_selftest_fails(incomplete_site, chromium, missing):
    """From file://, the page names the file that did not load (not the advice for a browser refusing WebAssembly
    from a file, which the intact folder shows it does not), and ?selftest writes its FAIL line naming it."""
    page, problems = open_page(chromium, (incomplete_site(missing) / "index.html").as_uri() + "?selftest")
    status = page.text_content("#status")
    assert status == f"{missing} did not load: the folder is incomplete; write it again with aea explore."
    assert selftest_line(page) == f"selftest: FAIL {status}"
    assert page.evaluate("window.aeaExplore.state.ready") is False
    assert not_found(problems) == []
    page.close()


def test_a_folder_missing_the_original_audio_still_decodes_and_says_which_file_is_missing(incomplete_site, chromium):
    page, problems = open_page(chromium, (incomplete_site("data/audio.js") / "index.html").as_uri() + "?selftest")
    check_selftest(selftest_line(page))
    assert page.evaluate("window.aeaExplore.state.ready") is True
    page.wait_for_function("document.getElementById('original-caption').textContent.includes('did not load')")
    assert "data/audio.js did not load" in page.text_content("#original-caption")
    assert not_found(problems) == []
    page.close()


@pytest.fixture(scope="module")
def site_of_14_labels(tmp_path_factory, write_songs, make_checkpoint):
    """The site of an untrained tiny checkpoint on songs of 14 labels, 2 clips of each."""
    if not (vendoring.VENDOR / vendoring.ORIGIN_NAME).is_file():
        pytest.skip(f"the browser runtime is not vendored: {vendoring.GET_IT}")
    root = tmp_path_factory.mktemp("explore-page-14-labels")
    songs = write_songs(root / "songs", labels=tuple(f"style{n:02d}" for n in range(14)), tracks=2)
    write_site(make_checkpoint(songs, root / "cache", root / "model.safetensors"), root, songs, "--clips", "28")
    return root / "site"


TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
LEGEND = """() => [...document.querySelectorAll('#legend span')].map(dot => {
    const probe = document.createElement('canvas').getContext('2d');
    probe.fillStyle = getComputedStyle(dot).backgroundColor;
    probe.fillRect(0, 0, 1, 1);
    return Array.from(probe.getImageData(0, 0, 1, 1).data.slice(0, 3));
})"""
MAP_COLOURS = """() => {
    const canvas = document.getElementById('map');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, seen = [];
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i + 3] === 204 || pixels[i + 3] === 255) seen.push([pixels[i], pixels[i + 1], pixels[i + 2]]);
    return seen;
}"""


def test_more_than_ten_labels_get_colours_of_their_own_on_the_legend_and_the_map(site_of_14_labels, chromium):
    """The first 10 labels keep matplotlib's 10 colours as dots; the 11th to 14th (which repeated the first four
    colours) get colours far from every other label's, as diamonds, in the legend and on the map."""
    page, problems = open_page(chromium, (site_of_14_labels / "index.html").as_uri())
    legend = np.array(page.evaluate(LEGEND), dtype=float)
    assert len(legend) == 14
    assert [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in legend[:10].astype(int)] == TAB10
    apart = min(np.abs(legend[i] - legend[j]).sum() for i in range(14) for j in range(i))
    assert apart > 60, f"two labels' colours differ by only {apart} (sum of RGB differences)"
    shapes = page.evaluate("[...document.querySelectorAll('#legend span')].map(dot => dot.className)")
    assert shapes == [""] * 10 + ["diamond"] * 4
    drawn = np.array(page.evaluate(MAP_COLOURS), dtype=float)  # fills (alpha 0.8) and rings no other point covers
    assert [bool((np.abs(drawn - colour).sum(1) <= 6).any()) for colour in legend[10:]] == [True] * 4
    assert problems == []
    page.close()


def test_a_piece_the_browser_cannot_decode_says_so_instead_of_throwing(site, chromium, tmp_path):
    """A piece of 0.01 s (what --piece-seconds 0.01 wrote; now refused) plays to an "Unable to decode audio data"
    in Chromium: the piece says it has no spectrogram, and nothing is thrown."""
    from autoenc_audio.explore.payload import packed_bytes, write_script
    from autoenc_audio.explore.site import _vorbis

    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    rate = read_script(copy / "data" / "site.js")[1]["sample_rate"]
    pieces = read_script(copy / "data" / "pieces.js")[1]
    pieces[0] = packed_bytes(_vorbis(np.zeros(round(0.01 * rate), dtype=np.float32), rate))
    write_script(copy / "data" / "pieces.js", "pieces", pieces)
    page, problems = open_page(chromium, (copy / "index.html").as_uri())
    page.evaluate("document.getElementById('piece-0-audio').play().catch(() => {})")
    page.wait_for_selector("#piece-0-problem", state="visible")
    assert "could not decode prior piece 1" in page.text_content("#piece-0-problem")
    assert page.is_hidden("#piece-0-spectrogram")
    assert problems == []
    page.close()


BRIGHTNESS = """(id => {
    const canvas = document.getElementById(id);
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
    return sum / (pixels.length / 4);
})"""


def test_a_decoding_quieter_than_its_original_draws_darker_on_the_shared_colour_scale(site, chromium):
    page, problems = open_page(chromium, (site / "index.html").as_uri())
    page.wait_for_function("window.aeaExplore.state.decodes >= 1")
    clip = "Float32Array.from({length: 8000}, (_, i) => 0.5 * Math.sin(2 * Math.PI * 440 * i / 8000))"
    bright = {}
    for name, gain in (("original", 1.0), ("decoded", 0.001)):  # the same sound at -6 dBFS and 60 dB below it
        canvas = f"document.getElementById('{name}-spectrogram')"
        page.evaluate(f"window.aeaExplore.drawSpectrogram({canvas}, {clip}.map(v => v * {gain}))")
        bright[name] = page.evaluate(f"{BRIGHTNESS}('{name}-spectrogram')")
    assert bright["decoded"] < 0.5 * bright["original"], bright  # not drawn alike, each to its own peak
    assert "share one colour scale" in page.text_content("#spectrogram-scale")
    assert problems == []
    page.close()
