"""Figures, one module per kind; import from the module that draws a figure (this package re-exports nothing).

`figure.py` holds what every figure shares (Agg, sizes, formats, atomic
writes); `audio.py` draws waveforms and spectrograms, `history.py` training
curves, `latents.py` latent maps and analysis charts, `sweep.py` the
latent-size sweep.
"""
