"""Where the tests find the repository's files: the examples, the test data and the goldens."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SEED_YAML = EXAMPLES / "seed" / "cloud.yaml"
DATA = REPO / "tests" / "data"
GOLDEN_DIR = REPO / "tests" / "golden"
