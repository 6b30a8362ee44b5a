"""Real recorded music for the benchmarks, from Debian's game-music packages.

Installs the packages when missing (apt-get; needs root and the package
registry), extracts the Ogg tracks from their .pk3 (zip) archives and lays them
out as an aea folder dataset: `bench/music/real/<package>/<track>.ogg`, so the
label of a track is the package it comes from. Nothing is downloaded at run
time by aea itself; this is bench set-up.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

FOLDER = Path(__file__).parent / "music" / "real"
PACKAGES = {
    "nexuiz": ("nexuiz-music", "/usr/share/games/nexuiz/data/music.pk3"),
    "ufoai": ("ufoai-music", "/usr/share/games/ufoai/base/0music.pk3"),
    "planetblupi": ("planetblupi-music-ogg", "/usr/share/planetblupi/music"),
    "frozenbubble": ("fb-music-high", "/usr/share/games/frozen-bubble/snd"),
}
MIN_BYTES = 300_000  # skip short sound effects shipped beside the music


def install(packages: list[str]) -> None:
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)


def real_music_folder() -> Path:
    """The dataset folder, built on first use."""
    marker = FOLDER / ".complete"
    if marker.exists():
        return FOLDER
    install([package for package, _ in PACKAGES.values()])
    for label, (_, source) in PACKAGES.items():
        target = FOLDER / label
        target.mkdir(parents=True, exist_ok=True)
        source = Path(source)
        if source.suffix == ".pk3":
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    if member.filename.endswith(".ogg") and member.file_size >= MIN_BYTES:
                        (target / Path(member.filename).name).write_bytes(archive.read(member))
        else:
            for path in sorted(source.glob("*.ogg")):
                if path.stat().st_size >= MIN_BYTES:
                    shutil.copy(path, target / path.name)
    marker.write_text("ok\n")
    return FOLDER


if __name__ == "__main__":
    folder = real_music_folder()
    for label in sorted(p for p in folder.iterdir() if p.is_dir()):
        print(label.name, len(list(label.glob("*.ogg"))))
