"""Figures, one module per kind: import from the module that draws the figure; this package re-exports nothing."""
