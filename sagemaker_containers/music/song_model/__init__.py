"""Song generation model server for the SageMaker async endpoint (lyrics, music, cover art)."""

__version__ = "0.1.0"
