"""Where the local stack lives on disk."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"  # stack.json and logs (git-ignored)
# The transcriber's container image (its package `transcriber`) and the model container's folder,
# whose measuring module (`song_model.analysis`) the image's Dockerfile copies.
TRANSCRIBE_IMAGE_DIR = REPO_ROOT / "lambda_images" / "transcribe"
MEASURING_DIR = REPO_ROOT / "sagemaker_containers" / "music"
