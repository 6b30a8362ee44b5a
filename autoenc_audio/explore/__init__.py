"""`aea explore`: a static site where the decoder runs live in the browser (onnxruntime-web, vendored).

`vendoring.py` brings the pinned runtime into the package at build time,
`site.py` writes the folder, `payload.py` turns arrays and files into the
classic scripts the page loads (so it opens from file:// with no server),
`content.py` chooses the clips and computes the latent statistics; `page/`
holds the page's own HTML, JavaScript and CSS.
"""
