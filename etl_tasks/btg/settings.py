"""The ``[btg]`` luigi.cfg section: what the BTG pipeline asks for and how patiently it polls.

Secrets and endpoints (``BTG_CLIENT_ID``, ``BTG_CLIENT_SECRET``, ``BTG_BASE_URL``) come from the
environment (:mod:`etl_tasks.config`), never from here. Polling defaults follow api-contract.md B3:
a day's portfolio of ~20 funds takes 30 s to 8 min at BTG, so start at 3 s, back off x1.5 up to
30 s and give up after 10 minutes; tests shrink every interval through this section.
"""

from __future__ import annotations

import luigi

from etl_tasks.config_section import Section


class btg(Section):
    """[btg]: report contract, polling policy and the cross-report check of the BTG pipeline."""

    bounds = {
        "page_size": (1, None),
        "poll_initial_s": (0.001, None),
        "poll_factor": (1, None),
        "poll_max_interval_s": (0.001, None),
        "poll_deadline_s": (0.001, None),
        "zip_max_total_mb": (1, None),
        "zip_max_members": (1, None),
        "zip_max_ratio": (1, None),
    }

    page_size = luigi.IntParameter(
        default=100,
        description="pageSize of every report request (NAVPerformance: funds per page)",
    )
    indexers = luigi.ListParameter(
        default=["CDIE"], description="benchmarks requested with NAVPerformance (CDIE = CDI)"
    )
    scope = luigi.Parameter(
        default="",
        description="OAuth scope sent to /connect/token ('' = none: valid for every report)",
    )
    poll_initial_s = luigi.FloatParameter(
        default=3.0, description="first wait between ticket polls"
    )
    poll_factor = luigi.FloatParameter(
        default=1.5, description="growth of the wait after each poll"
    )
    poll_max_interval_s = luigi.FloatParameter(
        default=30.0, description="longest wait between polls"
    )
    poll_deadline_s = luigi.FloatParameter(
        default=600.0, description="give up on a ticket still processing after this many seconds"
    )
    not_found_grace_s = luigi.FloatParameter(
        default=60.0,
        description="a ticket answering 404 counts as 'not visible yet' this long after it "
        "was issued",
    )
    token_refresh_margin_s = luigi.FloatParameter(
        default=300.0, description="renew the access token when less than this lifetime is left"
    )
    missing_funds = luigi.ChoiceParameter(
        default="error",
        choices=["error", "warning"],
        description="a fund in one report type of a date and not in the other: error fails "
        "the cross-check (blocks both reports' loads), warning only names it in the report",
    )
    zip_max_total_mb = luigi.IntParameter(
        default=512, description="a carteira ZIP whose members inflate to more is refused"
    )
    zip_max_members = luigi.IntParameter(
        default=5000, description="a carteira ZIP with more members is refused"
    )
    zip_max_ratio = luigi.IntParameter(
        default=200,
        description="a ZIP member larger than 1 MiB that inflates more than this many times its "
        "compressed size is refused (zip bomb)",
    )
    cross_check_grace_s = luigi.FloatParameter(
        default=30.0,
        description="with --workers > 1, how long a cross-check gate waits for the other "
        "report's transform to start once its extract has finished",
    )
    cross_check = luigi.BoolParameter(
        default=True,
        description="loads wait for the cross-check gates (carteira vs rentabilidade); "
        "orquestrador-btg "
        "turns it off for a single --tipo",
    )
