"""The ``[alerts]`` section of luigi.cfg as a Luigi config class (see :mod:`etl_tasks.alerts`).

Apart from the alert code so that a run that sends no alert imports no Luigi for it; still
reachable as ``etl_tasks.alerts.alerts``.
"""

from __future__ import annotations

import luigi

from etl_tasks.config_section import Section


class alerts(Section):
    """[alerts]: when to alert and the SMTP settings (secrets come from the environment)."""

    bounds = {"smtp_port": (1, 65535)}

    on_success = luigi.BoolParameter(
        default=False, description="also alert when a run succeeds (FAILED/INCOMPLETE always do)"
    )
    smtp_host = luigi.Parameter(default="", description="SMTP server; empty = no e-mail alerts")
    smtp_port = luigi.IntParameter(default=587, description="SMTP port (587 STARTTLS, 465 TLS)")
    smtp_starttls = luigi.BoolParameter(default=True, description="upgrade with STARTTLS")
    smtp_ssl = luigi.BoolParameter(
        default=False, description="implicit TLS from the first byte (port 465); wins over starttls"
    )
    smtp_cafile = luigi.Parameter(
        default="", description="CA bundle to verify the SMTP server (empty = system store)"
    )
    smtp_user = luigi.Parameter(
        default="", description="SMTP login (password from ETL_SMTP_PASSWORD); empty = no login"
    )
    smtp_timeout_s = luigi.FloatParameter(default=30.0, description="SMTP socket timeout")
    email_from = luigi.Parameter(default="etl_tasks@localhost", description="From address")
    email_to = luigi.Parameter(
        default="", description="comma-separated recipients; empty = no e-mail alerts"
    )
    webhook_timeout_s = luigi.FloatParameter(default=10.0, description="webhook POST timeout")
    webhook_retries = luigi.IntParameter(
        default=2, description="webhook retries after the first attempt (connection, 5xx, 429)"
    )
    webhook_backoff_s = luigi.FloatParameter(
        default=1.0, description="wait before the first webhook retry; doubles each retry"
    )
