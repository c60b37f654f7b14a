"""The sentence encoder: the embedded e5 rebuild, the torch and ONNX backends, and the loader on top."""
