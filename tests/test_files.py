"""A full disk while writing: the file asked for is never half written, the old one stays, the message says why;
an output that is one of the inputs is refused before anything is written."""

import errno
import os
import shutil
from collections import namedtuple

import pytest

from autoenc_audio import files
from autoenc_audio.errors import InputError
from autoenc_audio.files import OutputError, append_text, atomic_path, refuse_overwriting_inputs

Usage = namedtuple("Usage", "total used free")


def write_half_then_fail(path, data):
    """What a full disk does to a write: part of the data lands, then ENOSPC."""
    with open(path, "wb") as handle:
        handle.write(data[: len(data) // 2])
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old contents")
    with pytest.raises(OutputError) as caught:
        with atomic_path(path) as temporary:
            write_half_then_fail(temporary, b"new contents" * 100)
    assert str(caught.value) == f"{path}: cannot write (no space left on device)"
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("free, full", [(4096, True), (10 << 30, False)])
def test_a_write_error_without_errno_counts_as_a_full_disk_only_when_little_is_free(tmp_path, monkeypatch, free, full):
    """libsndfile says only "System error": whether the disk is full is read from the filesystem."""
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: Usage(10 << 30, (10 << 30) - free, free))
    path = tmp_path / "out.wav"
    with pytest.raises((RuntimeError, OutputError)) as caught:
        with atomic_path(path) as temporary:
            temporary.write_bytes(b"RIFF")
            raise RuntimeError("System error.")
    assert isinstance(caught.value, OutputError) == full
    assert str(caught.value) == (f"{path}: cannot write (no space left on device)" if full else "System error.")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_at_fsync_is_reported_and_cleaned_up(tmp_path, monkeypatch):
    def no_space(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match=r"out.txt: cannot write \(no space left on device\)$"):
        with atomic_path(tmp_path / "out.txt") as temporary:
            temporary.write_text("text")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_append_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "history.jsonl"
    append_text(path, '{"epoch": 1}\n')
    real_write = os.write

    def write_part_then_fail(descriptor, data):
        if not os.path.samestat(os.fstat(descriptor), os.stat(path)):
            return real_write(descriptor, data)
        if len(data) > 4:
            return real_write(descriptor, data[:4])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "write", write_part_then_fail)
    with pytest.raises(OutputError, match=r"history.jsonl: cannot write \(no space left on device\)$"):
        append_text(path, '{"epoch": 2}\n')
    assert path.read_text() == '{"epoch": 1}\n'


def test_an_output_that_is_an_input_is_refused_by_any_of_its_names(tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF the original")
    (tmp_path / "hard.wav").hardlink_to(song)
    (tmp_path / "soft.wav").symlink_to(song)
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    refused = {
        song: f"{song}: is also an input; write the output elsewhere",
        tmp_path / "hard.wav": f"{tmp_path / 'hard.wav'}: is also an input ({song}); write the output elsewhere",
        tmp_path / "soft.wav": f"{tmp_path / 'soft.wav'}: is also an input ({song}); write the output elsewhere",
        tmp_path / "alias" / "song.wav": f"{tmp_path / 'alias' / 'song.wav'}: is also an input ({song}); "
        "write the output elsewhere",
    }
    for output, message in refused.items():
        with pytest.raises(InputError) as caught:
            refuse_overwriting_inputs([tmp_path / "new.wav", output], ["-", tmp_path / "missing.wav", song])
        assert str(caught.value) == message
    (tmp_path / "other.wav").write_bytes(b"RIFF another")
    refuse_overwriting_inputs(["-", tmp_path / "new.wav", tmp_path / "other.wav", tmp_path], [song, "-", tmp_path])
    assert song.read_bytes() == b"RIFF the original"


@pytest.mark.parametrize("under", ["", "run", "run/deeper"])
def test_a_folder_that_cannot_be_made_for_a_file_in_the_way_names_that_file(tmp_path, under):
    """`-o afile/z.pt` said "afile/z.pt: cannot write (File exists)", `--out afile/r` "afile/r/aea.lock: ..."."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError) as caught:
        files.make_folder(tmp_path / "afile" / under)
    assert str(caught.value) == f"{tmp_path / 'afile'}: not a directory"
    assert caught.value.errno == errno.ENOTDIR  # a path the user gave: exit 2
    assert files.make_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
