"""Where the local stack lives on disk."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"  # stack.json and logs (git-ignored)
