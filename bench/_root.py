"""Imported first by every benchmark run as `python bench/NAME.py` (bench/ is then sys.path[0]).

It puts the repository root on sys.path instead of bench/ (`devservices` is development tooling,
not installed; bench/api.py would shadow the `api` package), and refuses to measure code from
another checkout than this one (`devservices.checkout`: a worktree run with the main venv mixes
two commits).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from devservices.checkout import require_own_code  # noqa: E402

require_own_code(HERE.parent)
