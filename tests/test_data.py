import math
import os

import numpy as np
import pytest
from conftest import unknown_length_flac

from autoenc_audio import data as data_module
from autoenc_audio.config import AudioConfig, DataConfig
from autoenc_audio.data import (
    DatasetError,
    Track,
    TrackCache,
    clip_starts,
    fill_cache,
    prepare_dataset,
    scan_folder,
    split_tracks,
    summarize_scan,
)

AUDIO = AudioConfig(sample_rate=8000, clip_seconds=1.0)


@pytest.fixture
def genre_folder(tmp_path, make_audio):
    """Three labels x four tracks, GTZAN layout, 3.5 s each at 16 kHz stereo."""
    root = tmp_path / "genres"
    for label_number, label in enumerate(["blues", "jazz", "rock"]):
        for number in range(4):
            make_audio(
                f"genres/{label}/{label}.{number:05d}.wav",
                seconds=3.5,
                rate=16000,
                channels=2,
                freq=200.0 + 50 * label_number + 10 * number,
            )
    return root


def test_scan_labels_from_folders(genre_folder, make_audio, tmp_path):
    make_audio("genres/loose.wav", seconds=1.0)
    (genre_folder / "jazz" / "notes.txt").write_text("not audio")
    (genre_folder / "jazz" / "broken.wav").write_text("not audio either")
    scan = scan_folder(genre_folder)
    assert len(scan.tracks) == 13
    assert scan.labels == ["blues", "jazz", "rock"]
    assert [t.label for t in scan.tracks if t.path.name == "loose.wav"] == [None]
    assert len(scan.skipped) == 1 and scan.skipped[0][0].endswith("broken.wav")
    summary = summarize_scan(scan, AUDIO, DataConfig())
    assert summary["labels"]["jazz"]["tracks"] == 4
    assert summary["labels"]["jazz"]["clips"] == 12  # 3 full 1 s clips of a 3.5 s track
    assert summary["labels"]["(none)"]["clips"] == 1


def test_scan_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        scan_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no readable audio files"):
        scan_folder(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.wav").write_text("text")
    with pytest.raises(DatasetError, match=r"no readable audio files \(1 unreadable\)"):
        scan_folder(tmp_path / "bad")


def test_files_of_an_unsupported_format_are_reported_with_how_to_convert_them(tmp_path, write_songs):
    """A .m4a beside readable songs is skipped saying why (it was passed over in silence); a folder of only such
    files is refused with the ffmpeg command, not a bare "no readable audio files"."""
    songs = write_songs(tmp_path / "mess", labels=("low",), tracks=2)
    (songs / "low" / "x.m4a").write_bytes(b"\0" * 64)
    scan = scan_folder(songs)
    assert len(scan.tracks) == 2
    assert scan.skipped == [
        (
            str(songs / "low" / "x.m4a"),
            ".m4a files are not supported; convert to WAV, FLAC, OGG or MP3 (e.g. ffmpeg -i 'x.m4a' 'x.flac')",
        )
    ]
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "song.m4a").write_bytes(b"\0" * 64)
    (tmp_path / "only" / "talk.aac").write_bytes(b"\0" * 64)
    with pytest.raises(DatasetError) as refused:
        scan_folder(tmp_path / "only")
    assert str(refused.value) == (
        f"{tmp_path / 'only'}: no readable audio files (2 unreadable); .aac, .m4a files are not supported: "
        "convert to WAV, FLAC, OGG or MP3 (e.g. ffmpeg -i 'song.m4a' 'song.flac')"
    )


def test_symlinked_label_folders_are_walked_and_a_broken_link_is_reported(tmp_path, write_songs):
    """A label folder linked in (`ln -s ../low data/low`) was left out without a word, and a broken link to a
    song was skipped silently; a link back up the tree is walked once."""
    songs = write_songs(tmp_path / "songs", tracks=2)
    data = tmp_path / "data"
    (data / "high").mkdir(parents=True)
    (data / "low").symlink_to(songs / "low", target_is_directory=True)
    for song in (songs / "high").iterdir():
        (data / "high" / song.name).write_bytes(song.read_bytes())
    (data / "high" / "gone.wav").symlink_to(tmp_path / "nope.wav")
    (data / "high" / "loop").symlink_to(data, target_is_directory=True)
    scan = scan_folder(data)
    assert sorted({track.label for track in scan.tracks}) == ["high", "low"] and len(scan.tracks) == 4
    assert scan.skipped == [(str(data / "high" / "gone.wav"), "a broken link")]


def test_the_rarer_containers_libsndfile_reads_are_taken_from_a_folder(tmp_path, make_audio):
    """A .caf (or .w64, .au) in a folder was passed over in silence, though aea reads it when named alone."""
    import soundfile

    (tmp_path / "songs").mkdir()
    samples = np.sin(np.arange(8000) / 5).astype(np.float32) * 0.5
    soundfile.write(tmp_path / "songs" / "a.caf", samples, 8000, format="CAF", subtype="PCM_16")
    soundfile.write(tmp_path / "songs" / "b.w64", samples, 8000, format="W64", subtype="PCM_16")
    soundfile.write(tmp_path / "songs" / "c.au", samples, 8000, format="AU", subtype="PCM_16")
    scan = scan_folder(tmp_path / "songs")
    assert len(scan.tracks) == 3 and not scan.skipped


def test_a_flac_without_a_length_in_its_header_is_scanned_and_trained_on_like_any_other(tmp_path, make_audio):
    """A FLAC written to a pipe (no length in its header) made the scan fail with a bare MemoryError."""
    unknown_length_flac(tmp_path / "songs" / "a" / "piped.flac", seconds=3.0, rate=16000)
    make_audio("songs/a/some.wav", seconds=2.0, rate=16000)
    make_audio("songs/b/other.wav", seconds=2.0, rate=16000)
    scan = scan_folder(tmp_path / "songs")
    assert [track.duration_seconds for track in scan.tracks] == [3.0, 2.0, 2.0] and not scan.skipped
    summary = summarize_scan(scan, AUDIO, DataConfig())
    assert summary["labels"]["a"] == {"tracks": 2, "clips": 5, "seconds": 5.0}
    prepared = prepare_dataset(tmp_path / "songs", AUDIO, DataConfig(validation_fraction=0, test_fraction=0), tmp_path)
    assert len(prepared.splits["train"]) == 7


def test_clip_starts():
    assert clip_starts(350, 100, 100) == [0, 100, 200]
    assert clip_starts(350, 100, 50) == [0, 50, 100, 150, 200, 250]
    assert clip_starts(60, 100, 100) == [0]
    assert clip_starts(100, 100, 100) == [0]


def test_split_by_track_is_deterministic_disjoint_and_stratified(genre_folder):
    tracks = scan_folder(genre_folder).tracks
    split = split_tracks(tracks, 0.25, 0.25, seed=7)
    assert split == split_tracks(tracks, 0.25, 0.25, seed=7)
    assert split != split_tracks(tracks, 0.25, 0.25, seed=8)
    paths = {name: {t.path for t in members} for name, members in split.items()}
    assert not paths["train"] & paths["test"] and not paths["train"] & paths["validation"]
    assert not paths["validation"] & paths["test"]
    assert sum(len(p) for p in paths.values()) == 12
    assert len(split["test"]) == 3 and len(split["validation"]) == 3
    assert {t.label for t in split["test"]} == {"blues", "jazz", "rock"}


def test_a_small_label_among_large_ones_is_still_trained_on(tmp_path):
    """Round-robin alone sent all three tracks of a small label to test (real bench music did this)."""
    tracks = [
        Track(tmp_path / f"{label}{i}.wav", label, 60.0)
        for label, count in (("a", 3), ("b", 17), ("c", 10), ("d", 63))
        for i in range(count)
    ]
    split = split_tracks(tracks, 0.1, 0.1, seed=0)
    labels = {name: [t.label for t in members] for name, members in split.items()}
    assert len(split["test"]) == 9 and len(split["validation"]) == 9 and sum(map(len, split.values())) == 93
    for label, count in (("a", 3), ("b", 17), ("c", 10), ("d", 63)):
        held = labels["test"].count(label) + labels["validation"].count(label)
        assert labels["train"].count(label) >= 1 and held <= math.ceil(count * 0.2)
    assert set(labels["test"]) == {"a", "b", "c", "d"}
    one_track_labels = [Track(tmp_path / f"{label}.wav", label, 60.0) for label in "xyz"]
    tiny = split_tracks(one_track_labels, 0.1, 0.1, seed=0)
    assert [len(tiny[name]) for name in ("train", "validation", "test")] == [1, 1, 1]
    capped = [Track(tmp_path / f"solo{i}.wav", f"solo{i}", 60.0) for i in range(10)]
    capped += [Track(tmp_path / f"big{i}.wav", "big", 60.0) for i in range(10)]
    shared = split_tracks(capped, 0.2, 0.2, seed=0)  # caps hold back all but 4 of the 8 asked for
    assert len(shared["test"]) == len(shared["validation"]) == 2 and len(shared["train"]) == 16


def test_a_train_fraction_trains_on_fewer_tracks_and_tests_on_the_same(tmp_path):
    """The data-size learning curve (bench_scale.py) needs one test set for every share, and nested shares."""
    tracks = [Track(tmp_path / f"{label}{i}.wav", label, 60.0) for label in "abcd" for i in range(25)]
    whole = split_tracks(tracks, 0.1, 0.1, seed=0)
    tenth, third = (split_tracks(tracks, 0.1, 0.1, seed=0, train_fraction=f) for f in (0.1, 0.3))
    assert len(whole["train"]) == 80 and len(third["train"]) == 24 and len(tenth["train"]) == 8
    for part in (tenth, third):
        assert part["test"] == whole["test"] and part["validation"] == whole["validation"]
    assert set(tenth["train"]) <= set(third["train"]) <= set(whole["train"])
    assert sorted(t.label for t in tenth["train"]) == ["a", "a", "b", "b", "c", "c", "d", "d"]
    assert len(split_tracks(tracks, 0.1, 0.1, seed=0, train_fraction=1e-6)["train"]) == 1


def test_prepare_dataset_no_track_on_two_sides(genre_folder, tmp_path):
    prepared = prepare_dataset(
        genre_folder, AUDIO, DataConfig(validation_fraction=0.25, test_fraction=0.25), tmp_path / "cache"
    )
    sources = {name: {str(t.path) for t in split.index.tracks} for name, split in prepared.splits.items()}
    assert not sources["train"] & sources["test"]
    assert len(prepared.splits["train"]) == 6 * 3
    audio, label = prepared.splits["train"][0]
    assert audio.shape == (1, 8000) and audio.dtype.is_floating_point
    assert 0 <= label < 3
    assert prepared.labels == ["blues", "jazz", "rock"]
    half = prepare_dataset(
        genre_folder, AUDIO, DataConfig(validation_fraction=0.25, test_fraction=0.25, train_fraction=0.5), tmp_path
    )
    assert len(half.splits["train"].index.tracks) == 3 and len(half.splits["train"]) == 3 * 3
    assert half.splits["test"].index.tracks == prepared.splits["test"].index.tracks


def test_cache_hit_skips_decoding_and_change_rebuilds(genre_folder, tmp_path, monkeypatch):
    tracks = scan_folder(genre_folder).tracks[:2]
    calls = []
    real = data_module.load_track
    monkeypatch.setattr(data_module, "load_track", lambda path, audio: calls.append(path) or real(path, audio))
    cache = TrackCache(tmp_path / "cache", AUDIO)
    assert fill_cache(cache, tracks) == []
    assert len(calls) == 2
    first = np.array(cache.load(tracks[0].path))
    assert first.shape == (int(3.5 * 8000),)
    fill_cache(TrackCache(tmp_path / "cache", AUDIO), tracks)
    assert len(calls) == 2, "second load must come from the cache"
    # A changed file is decoded again.
    path = tracks[0].path
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    fill_cache(cache, tracks)
    assert len(calls) == 3
    # Other preprocessing settings are another cache entry.
    fill_cache(TrackCache(tmp_path / "cache", AudioConfig(sample_rate=11025, clip_seconds=1.0)), tracks[:1])
    assert len(calls) == 4


def test_corrupt_cache_entry_is_rebuilt(genre_folder, tmp_path):
    """Exact: one process decodes and resamples the same file again."""
    track = scan_folder(genre_folder).tracks[0]
    cache = TrackCache(tmp_path / "cache", AUDIO)
    good = np.array(cache.load(track.path))
    entry = cache.entry(track.path)
    entry.write_bytes(entry.read_bytes()[:200])
    assert cache.cached(track.path) is None
    np.testing.assert_array_equal(np.array(cache.load(track.path)), good)
    entry.write_bytes(b"garbage")
    np.testing.assert_array_equal(np.array(cache.load(track.path)), good)


def test_parallel_fill_matches_serial(genre_folder, tmp_path):
    """Exact: each worker runs the same decode and resampler on the same file, on this machine."""
    tracks = scan_folder(genre_folder).tracks
    progress = []
    fill_cache(TrackCache(tmp_path / "a", AUDIO), tracks, workers=2, progress=lambda d, t: progress.append((d, t)))
    fill_cache(TrackCache(tmp_path / "b", AUDIO), tracks, workers=1)
    assert progress[-1] == (12, 12)
    for track in tracks:
        np.testing.assert_array_equal(
            np.array(TrackCache(tmp_path / "a", AUDIO).load(track.path)),
            np.array(TrackCache(tmp_path / "b", AUDIO).load(track.path)),
        )


def test_short_track_gives_one_padded_clip(tmp_path, make_audio):
    make_audio("songs/a.wav", seconds=0.4, rate=8000)
    make_audio("songs/b.wav", seconds=2.0, rate=8000)
    prepared = prepare_dataset(
        tmp_path / "songs", AUDIO, DataConfig(validation_fraction=0, test_fraction=0), tmp_path / "c"
    )
    train = prepared.splits["train"]
    assert len(train) == 3
    clips = [train[i][0] for i in range(3)]
    padded = [c for c in clips if float(c[0, 3200:].abs().max()) == 0.0]
    assert len(padded) == 1
    assert prepared.labels == [] and train[0][1] == -1


def test_evenly_spread_picks_with_and_without_the_last_item():
    from autoenc_audio.data import evenly_spread

    assert evenly_spread(10, 4).tolist() == [0, 3, 6, 9]  # both ends
    assert evenly_spread(10, 4, include_last=False).tolist() == [0, 2, 5, 7]  # steps of total / count from 0
    assert evenly_spread(3, 5).tolist() == evenly_spread(3, 5, include_last=False).tolist() == [0, 1, 2]
