"""A real failed `etl-run` sends exactly one e-mail (local aiosmtpd server) and one webhook POST
(local HTTP server), both carrying the exact rerun command; a successful run sends none."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import project_env, run_command
from tests.httpfixture import Reply, ScriptedServer
from tests.test_alerts import smtp_server

DATE = "2025-04-10"
HOOK = "/hooks/e2e-secret-token-42"


def alert_env(project: Path, smtp_port: int, hook_url: str) -> dict[str, str]:
    config = (
        "\n[alerts]\n"
        "smtp_host = 127.0.0.1\n"
        f"smtp_port = {smtp_port}\n"
        "smtp_starttls = false\n"
        "email_from = etl@example.test\n"
        "email_to = oncall@example.test\n"
        "webhook_retries = 0\n"
    )
    return project_env(project, {"ETL_ALERT_WEBHOOK_URL": hook_url}, config_text=config)


def test_failed_run_alerts_once_per_run_on_both_channels(sandbox, tmp_path: Path) -> None:
    sandbox.control(
        "faults", {"api": "twitch", "path": "/helix/clips", "status": 503, "count": 10_000}
    )
    with smtp_server() as (smtp, port), ScriptedServer() as hook:
        hook.script(HOOK, Reply(200))
        env = alert_env(tmp_path, port, hook.url + HOOK)
        result = run_command(["etl-run", "--date", DATE], tmp_path, env)
        assert result.code == 30, result.output[-3000:]
        posts = hook.requests_to(HOOK)

        assert len(smtp.messages) == 1  # one run, one message, however many tasks failed
        mail = smtp.messages[0]
        assert mail.message["Subject"] == f"[etl_tasks] twitch {DATE} FAILED"
        assert f"etl-run --date {DATE} --pipeline twitch" in mail.body
        assert "TwitchExtractClips" in mail.body
        assert len(posts) == 1
        payload = json.loads(posts[0].body)
        assert payload["status"] == "FAILED" and payload["date"] == DATE
        assert f"etl-run --date {DATE} --pipeline twitch" in payload["rerun_command"]
        assert (
            "e2e-secret-token-42"
            not in (tmp_path / "logs")
            .joinpath(next(p.name for p in (tmp_path / "logs").glob("etl_*.log")))
            .read_text()
        )

        # The fault is fixed: the rerun succeeds and, with on_success off, sends nothing.
        sandbox.clear_faults()
        rerun = run_command(["etl-run", "--date", DATE], tmp_path, env)
        assert rerun.code == 0, rerun.output[-3000:]
        assert len(smtp.messages) == 1 and len(hook.requests_to(HOOK)) == 1
