"""Fixtures of the conformance tests. The suite lives in the repository's `conformance/` folder (not
an installed package), so its parent goes on sys.path here, as `polytrack conformance` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
