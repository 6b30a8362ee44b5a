"""Run folders: what `aea train` writes and every later command reads.

`folder.py` knows the folder's files, which checkpoint it offers and the latest
run; `lock.py` lets one writer at a time into it. Import from the module that
holds a name: this package re-exports nothing.
"""
