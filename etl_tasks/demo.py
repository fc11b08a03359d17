"""The demo: the whole tool against the bundled sandbox, no credentials or server needed.

    python -m etl_tasks.demo                       # what `make demo` runs
    python -m etl_tasks.demo --date 2025-04-10 --warehouse-url postgresql://postgres@127.0.0.1/test
    python -m etl_tasks.demo --root /tmp/etl-demo  # somewhere else than output/demo

Starts the sandbox on a free port (seed 42, clock 2025-04-10T15:00:00Z), points the API clients
at it, runs ``etl-run --pipeline all`` for the date, prints the report, stops the sandbox and exits
with the run's exit code. Running it again executes no stage: every target already exists. The
port is kept in ``<root>/sandbox.port`` and reused, because every target records the API base URL
it came from (a target from another URL is a SourceMismatchError, not silently reused).

Everything the demo writes lives under its own root, ``output/demo/`` (``[paths] output_dir`` +
``/demo``): Parquet and sidecars, reports and status page, the SQLite warehouse
``warehouse/demo.db``, the BTG landing directories, locks, rate-limit state and the logs. Real
runs use ``output/`` itself and never see a sandbox target, so a real run of the demo's date asks
the real API instead of loading sandbox files. The user's ``.env`` is not used for anything the
demo points at the sandbox (credentials, base URLs, warehouse, landing directories).

Exit codes: those of etl-run (0 success, 3 configuration, 30 a task failed, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sys
from pathlib import Path

from luigi.configuration import get_config

from etl_sandbox.launcher import free_port, running_sandbox
from etl_tasks.cli import run as etl_run
from etl_tasks.cli.common import parse_date, parse_pipelines
from etl_tasks.cli.parsers import document
from etl_tasks.config import output_root, warehouse_key
from etl_tasks.errors import ConfigError
from etl_tasks.pipelines import Pipeline, names, registered, selection_text

DEMO_DATE = dt.date(2025, 4, 10)
DEMO_DIRECTORY = "demo"  # under [paths] output_dir
PORT_FILE = "sandbox.port"
EXIT_CONFIG = 3


def default_root() -> Path:
    """``<[paths] output_dir>/demo``: the demo's own tree, beside (never inside) real targets."""
    return output_root() / DEMO_DIRECTORY


def isolate(root: Path, warehouse_url: str | None) -> dict[str, str]:
    """Point every path of this process at ``root``; returns the environment the run needs.

    ``[paths]`` moves targets, reports, locks, rate-limit state and logs (``--workers``
    subprocesses are forked and inherit it); the BTG landing directories and the warehouse are
    environment keys, set here so that the user's ``.env`` cannot send them elsewhere."""
    config = get_config()
    config.set("paths", "output_dir", str(root))
    config.set("paths", "logs_dir", str(root / "logs"))
    environment = {
        "WAREHOUSE_URL": warehouse_url or f"sqlite:///{root / 'warehouse' / 'demo.db'}",
    }
    for pipeline in registered():
        for key in pipeline.landing_dirs:
            environment[key] = str(root / demo_landing_dir(pipeline, key))
    return environment


def demo_landing_dir(pipeline: Pipeline, key: str) -> Path:
    """Where the demo keeps one landing directory: its default below ``output/``, moved under the
    demo root (``output/landing/<p>/<d>`` → ``<root>/landing/<p>/<d>``)."""
    default = Path(pipeline.env_default(key) or "")
    if default.is_absolute() or len(default.parts) < 2:
        return Path("landing") / pipeline.name / key.lower()
    return Path(*default.parts[1:]) if default.parts[0] == "output" else default


def demo_port(root: Path) -> int:
    """The sandbox port of this demo root: the one used before (its targets record that base
    URL), else a free one, remembered in ``<root>/sandbox.port``."""
    remembered = root / PORT_FILE
    if remembered.is_file():
        port = int(remembered.read_text().strip())
        if not port_in_use(port):
            return port
        raise ConfigError(
            f"the demo's sandbox port {port} (from {remembered}) is in use by another program: "
            f"stop it, or start over with `rm -r {root}` and run the demo again"
        )
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    remembered.write_text(f"{port}\n")
    return port


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m etl_tasks.demo", description=__doc__.split("\n\n")[0]
    )
    document(parser, __doc__)
    parser.add_argument(
        "--date", type=parse_date, default=DEMO_DATE, help="date (default 2025-04-10)"
    )
    parser.add_argument(
        "--warehouse-url",
        default=None,
        help="warehouse for both pipelines (default: SQLite <root>/warehouse/demo.db)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="directory of everything the demo writes (default: output/demo)",
    )
    parser.add_argument(
        "--pipeline",
        type=parse_pipelines,
        default=names(),
        help="pipeline(s) to run: a name, a comma-separated list or all (default all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = args.root or default_root()
    apis = " + ".join(pipeline.title for pipeline in registered())
    print(f"🚀 demo: starting the sandbox ({apis} APIs on 127.0.0.1), date {args.date}")
    print(f"📁 demo: everything goes under {root}/ (real runs never read it)")
    try:
        port = demo_port(root)
    except ConfigError as error:
        print(f"demo: {error}", file=sys.stderr)
        return EXIT_CONFIG
    with running_sandbox(port=port) as sandbox:
        sandbox.control("reset", {"seed": 42})
        sandbox.control("clock", {"now": f"{args.date.isoformat()}T15:00:00Z"})
        # The demo must never touch real services or the user's warehouse: override .env.
        os.environ.update(sandbox.client_env())
        os.environ.update(isolate(root, args.warehouse_url))
        for name in names():  # one demo warehouse for every pipeline
            os.environ.pop(warehouse_key(name), None)
        selection = selection_text(args.pipeline)
        code = etl_run.main(["--date", args.date.isoformat(), "--pipeline", selection])
    print(f"🏁 demo finished with exit code {code}; sandbox stopped; data under {root}/")
    return code


if __name__ == "__main__":
    sys.exit(main())
