"""Self-contained HTML pages to listen and look: one HTML file and the files it names, in one folder.

No network, no CDN, no JavaScript: text and tables read without scripts,
players are the browser's own `<audio controls>` (keyboard accessible), and
every link is relative, so a page opens from `file://` and can be copied with
its folder. Nothing here imports torch but `report.py` (`aea report`), which
reconstructs, generates and scores trained runs to fill the run page.
"""
