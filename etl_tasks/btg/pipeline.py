"""The BTG pipeline's declaration for the registry (``etl_tasks.pipelines``).

    orquestrador-btg --data 2025-04-10

BTG Pactual carteira (ANBIMA XML) and rentabilidade (JSON) on ANBIMA business days; the raw files
are kept in two landing directories.
"""

from __future__ import annotations

import datetime as dt

from etl_tasks.pipelines import EnvKey, Pipeline, Probe


def _api_probe() -> str:
    from etl_tasks import config
    from etl_tasks.btg.client import BtgClient

    with BtgClient.from_env() as client:
        client.token()
        return f"token issued by {config.env('BTG_BASE_URL')}"


def probes() -> list[Probe]:
    """Set-up checks that call the BTG API."""
    return [Probe("BTG API", "check BTG_CLIENT_ID/SECRET and BTG_BASE_URL in .env", _api_probe)]


def no_run_reason(date: dt.date) -> str | None:
    """Why BTG has no data on ``date`` (not an ANBIMA business day), else None."""
    from etl_tasks.btg.extract import non_business_reason

    return non_business_reason(date)


def rerun(date: dt.date) -> list[str]:
    """The command that resumes one date of BTG alone (the original guide's orchestrator)."""
    return ["orquestrador-btg", "--data", date.isoformat()]


PIPELINE = Pipeline(
    name="btg",
    title="BTG Pactual fund reports",
    tasks_module="etl_tasks.btg.tasks",
    env_keys=(
        EnvKey("BTG_CLIENT_ID", None, "BTG Pactual funds API client id", required=True),
        EnvKey("BTG_CLIENT_SECRET", None, "BTG Pactual funds API client secret", required=True),
        EnvKey("BTG_BASE_URL", "https://funds.btgpactual.com", "BTG Pactual funds API base URL"),
        EnvKey("BTG_REPORT_PATH", "output/landing/btg/carteira",
               "landing directory for raw carteira files"),
        EnvKey("BTG_RENTABILIDADE", "output/landing/btg/rentabilidade",
               "landing directory for rentabilidade"),
        EnvKey("BTG_WAREHOUSE_URL", None, "warehouse for btg (defaults to WAREHOUSE_URL)"),
    ),
    probes=probes,
    calendar="ANBIMA business days",
    no_run_reason=no_run_reason,
    landing_dirs=("BTG_REPORT_PATH", "BTG_RENTABILIDADE"),
    rerun=rerun,
    commands={"orquestrador-btg": 1},  # its guide: 0 success, 1 any failure
)
