"""aea's version, in a module of its own so that every part can record it without importing the package's API."""

__version__ = "0.3.0"
