"""Pages (autoenc_audio/pages/): the blocks, the generation page, and how they load in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from autoenc_audio.pages.generation import write_generation_page
from autoenc_audio.pages.html import Page, audio_player, document, facts, figure, table
from autoenc_audio.pages.run import RunSection, write_run_page


def _piece(folder: Path, name: str, seconds: float, rate: int = 8000) -> dict:
    """A generated-looking file with its sidecar, and the record `write_pieces` would return."""
    t = np.arange(int(seconds * rate)) / rate
    path = folder / f"{name}.wav"
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 330 * t) * (t % 0.5 < 0.25)).astype("float32"), rate)
    record = {
        "path": str(path),
        "mode": "random",
        "method": "prior",
        "seed": 3,
        "seconds": seconds,
        "jumps": 4,
        "sources": [str(folder / "song a.mp3")],
        "prior_fingerprint": "abc123",
        "model": "x/best.safetensors",
    }
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(record))
    return {**record, "sidecar": str(sidecar)}


def test_text_is_escaped_and_a_missing_file_says_so_instead_of_a_broken_player(tmp_path):
    page = Page(tmp_path / "index.html")
    (tmp_path / "a b.wav").write_bytes(b"RIFF")
    player = audio_player(page, tmp_path / "a b.wav", "<clip>", "p1")
    assert 'src="a%20b.wav"' in player and "&lt;clip&gt;" in player and 'for="p1"' in player
    missing = audio_player(page, tmp_path / "gone.wav", "gone", "p2")
    assert "<audio" not in missing and "missing" in missing and "gone.wav" in missing
    assert "<img" not in figure(page, tmp_path / "gone.png", "a figure")
    assert "&amp;" in table(["a&b"], [[1.23456, None, [1, 2]]]) and ">1.235<" in table(["x"], [[1.23456]])
    assert '<th scope="row">seed</th>' in facts([("seed", 3)])
    html = document("t<", "lede", "<p>body</p>")
    assert html.startswith("<!doctype html>") and "<title>t&lt;</title>" in html and "<script" not in html


def test_the_generation_page_shows_each_piece_with_its_spectrogram_and_facts(tmp_path):
    records = [_piece(tmp_path, "000-random", 2.0), _piece(tmp_path, "001-random", 3.0)]
    page = write_generation_page(records, tmp_path / "index.html")
    html = page.read_text()
    assert html.count("<audio") == 2 and html.count("<img") == 2
    assert (tmp_path / "000-random.png").is_file() and (tmp_path / "001-random.png").is_file()
    assert "song a.mp3" in html and "abc123" in html and "x/best.safetensors" not in html  # sources by name
    assert "2 pieces (5.0 s in all)" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "every link is relative"
    (tmp_path / "001-random.wav").unlink()  # a piece gone since: said, not a broken player
    again = write_generation_page(records, tmp_path / "index.html").read_text()
    assert again.count("<audio") == 1 and "no audio (missing" in again
    assert not list(tmp_path.glob(".*.tmp")), "written atomically: no temporary left"


@pytest.mark.slow  # starts Chromium
def test_the_generation_page_works_in_a_real_browser(tmp_path, check_page, browser):
    records = [_piece(tmp_path, "000-random", 2.0), _piece(tmp_path, "001-random", 4.5)]
    page = write_generation_page(records, tmp_path / "index.html")
    report = check_page(page)
    assert [round(a["duration"], 2) for a in report.audio] == [2.0, 4.5]
    assert len(report.images) == 2 and report.title == "aea generate"
    shot = browser.screenshot(tmp_path / "shot.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_seed_and_a_sample_rate_print_as_a_command_takes_them_and_counts_stay_grouped(tmp_path):
    record = {**_piece(tmp_path, "000-random", 1.0), "seed": 867507072, "sample_rate": 8000}
    html = write_generation_page([record], tmp_path / "index.html").read_text()
    assert ">867507072<" in html and "867,507,072" not in html  # pasted into --seed as shown
    assert ">8000<" in html and "8,000" not in html
    assert ">1,234,567<" in facts([("parameters", 1234567)])  # a count still reads grouped


def _summary(latent: int, root: str, test_tracks: int = 5, **extra) -> dict:
    """What summary.json holds, the parts the run page shows."""
    return {
        "arch": "default",
        "kind": "ae",
        "latent_size": latent,
        "steps": 30,
        "test": {"snr_db": 3.25, "mrstft": 1.5},
        "data": {"root": root, "tracks": {"train": 14, "validation": 5, "test": test_tracks}, "split": "ab12"},
        **extra,
    }


def _shown_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", html, flags=re.S)).split())


def test_runs_of_different_rates_and_clip_lengths_are_compared_with_both_and_a_note(tmp_path):
    """A 4096 latent at 22050 Hz, 5 s compresses more than a 512 latent at 8000 Hz, 1 s: the table and the facts give
    each run's rate, clip and compression, and a note says the runs differ, so latent sizes are not misread."""
    runs = [
        RunSection("a", _summary(4096, "corpus"), sample_rate=22050, clip_seconds=5.0),
        RunSection("lab", _summary(512, "corpus"), sample_rate=8000, clip_seconds=1.0),
    ]
    shown = _shown_text(write_run_page(runs, tmp_path / "index.html").read_text())
    comparison = shown[shown.index("Comparison") : shown.index("architecture")]
    assert "sample rate clip compression" in comparison
    assert "a default / ae 4,096 22050 Hz 5 s 26.9:1" in comparison
    assert "lab default / ae 512 8000 Hz 1 s 15.6:1" in comparison
    assert "These runs differ in sample rate (22050 Hz, 8000 Hz) and clip length (5 s, 1 s)" in comparison
    assert "sample rate 22050 Hz clip 5 s compression 26.9:1 (110,250 samples per clip)" in shown  # the run's facts
    same = [RunSection(n, _summary(512, "corpus"), sample_rate=8000, clip_seconds=1.0) for n in ("b", "c")]
    assert "differ" not in _shown_text(write_run_page(same, tmp_path / "same.html").read_text())
    other_data = [*same[:1], RunSection("d", _summary(512, "music"), sample_rate=8000, clip_seconds=1.0)]
    assert "differ in data (corpus, music)" in _shown_text(write_run_page(other_data, tmp_path / "d.html").read_text())


def test_metrics_of_a_run_with_no_test_split_are_labelled_validation_not_test(tmp_path):
    """With test_fraction = 0 training measures its "test" metrics on the validation clips: summary.json says so
    (`held_out_split`), and an older summary by its test split's 0 tracks; the page labels them so."""
    runs = [
        RunSection("normal", _summary(512, "corpus", held_out_split="test")),
        RunSection("notest", _summary(512, "corpus", test_tracks=0, held_out_split="validation")),
        RunSection("older", _summary(512, "corpus", test_tracks=0)),
    ]
    shown = _shown_text(write_run_page(runs, tmp_path / "index.html").read_text())
    sections = shown.split("training curves of")  # the comparison, then one section per run
    assert "test snr_db 3.250" in sections[1] and "validation snr_db" not in sections[1]  # the normal run
    assert "validation snr_db 3.250" in sections[2] and "test snr_db" not in sections[2]
    assert "validation snr_db 3.250" in sections[3] and "test snr_db" not in sections[3]
    comparison = shown[shown.index("Comparison") : shown.index("architecture")]
    assert (
        "held-out split held-out snr_db" in comparison and "normal default / ae 512 – – – 30 – test 3.250" in comparison
    )
    assert "notest default / ae 512 – – – 30 – validation 3.250" in comparison


def scroll_width_at(browser, page: Path, width: int) -> int:
    """How wide the page scrolls in a `width` px window (no wider than `width`: no sideways scrolling)."""
    browser.check_page(page)
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False},
        session=True,
    )
    result = browser.call(
        "Runtime.evaluate", {"expression": "document.documentElement.scrollWidth", "returnByValue": True}, session=True
    )
    return int(result["result"]["value"])


@pytest.mark.slow  # starts Chromium
def test_a_wide_table_scrolls_inside_its_card_not_the_page(tmp_path, browser):
    from autoenc_audio.pages.html import section, write_page

    wide = table([f"a long column heading {k}" for k in range(14)], [[123456.789] * 14, ["some text"] * 14])
    body = section("wide", wide) + section("facts", facts([("a rather long name", "x" * 10), ("n", 3)]))
    page = write_page(Page(tmp_path / "index.html"), document("wide", "a page with a wide table", body))
    assert scroll_width_at(browser, page, 700) <= 700
    browser.screenshot(tmp_path / "wide.png", width=700)
