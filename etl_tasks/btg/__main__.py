"""``python -m etl_tasks.btg [--tipo ...] [--data ...]``: the orquestrador-btg command.

    python -m etl_tasks.btg --tipo carteira --data 2025-04-10

Same options and exit codes as ``orquestrador-btg`` (:mod:`etl_tasks.btg.orquestrador`).
"""

from __future__ import annotations

import sys

from etl_tasks.btg.orquestrador import main

if __name__ == "__main__":
    sys.exit(main())
