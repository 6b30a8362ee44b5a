"""`aea export`: a model's encoder and decoder as ONNX or TorchScript graphs that run without aea.

`write.py` exports and checks the graphs, `graphs.py` wraps the model's parts
as fixed-shape graphs, `runtime.py` runs exported files (onnxruntime or
TorchScript), `manifest.py` is the folder's JSON and tells an export folder
from a checkpoint (no torch).
"""
