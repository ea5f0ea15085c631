"""Audio to MIDI on the CPU: Spotify's basic-pitch (ONNX Runtime) in a Lambda container image."""
