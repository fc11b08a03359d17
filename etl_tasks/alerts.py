"""Run alerts: one message per run (never one per task), by e-mail and/or a JSON webhook.

The entry points call :func:`send_run_alert` once, after the run's report is written::

    send_run_alert(report.to_json(), rerun_command(date, pipelines))

A FAILED or INCOMPLETE run always alerts; a SUCCESS (or SKIPPED) run alerts only when
``[alerts] on_success = true``. The message names the pipelines, the date and the status, lists the
errors, carries the report text and a ``Rerun:`` line with the exact command that resumes the day.

Channels, each used only when configured:

* **E-mail** over SMTP with :mod:`smtplib`: host, port, STARTTLS / implicit TLS, sender and
  recipients from ``[alerts]`` in luigi.cfg; the login password only from the environment
  (``ETL_SMTP_PASSWORD``). This is not Luigi's own e-mail notifier, which stays silent whenever
  stdout is a TTY unless ``force_send`` is set: these alerts go out the same from cron and from a
  terminal.
* **Webhook**: a JSON POST to ``ETL_ALERT_WEBHOOK_URL`` (environment only: a webhook URL holds a
  token, so only its host is ever logged). The body is Slack-compatible (``{"text": ...}``) plus
  structured fields (date, pipelines, status, errors, rerun_command, report_path, ...).

Secrets are masked (:func:`etl_tasks.core.redact.redact`) in everything sent. A failing channel is
logged and never raises: an alert problem must not change the exit code of the run it reports on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from etl_tasks import luigi_cfg
from etl_tasks.config import env
from etl_tasks.core.redact import redact
from etl_tasks.report import RunReport, render_text, report_dir

if TYPE_CHECKING:
    from etl_tasks.alert_settings import alerts

logger = logging.getLogger(__name__)

PASSWORD_ENV = "ETL_SMTP_PASSWORD"
WEBHOOK_ENV = "ETL_ALERT_WEBHOOK_URL"
ALWAYS_ALERT = ("FAILED", "INCOMPLETE")
# Slack truncates long messages; the structured fields and the e-mail carry the full detail.
WEBHOOK_MAX_ERRORS = 10
WEBHOOK_MAX_ERROR_CHARS = 300


def __getattr__(name: str) -> Any:
    # The [alerts] section class needs Luigi: defined on first use (etl_tasks.alert_settings),
    # so a run that sends nothing (a successful no-op rerun) imports no Luigi for it.
    if name == "alerts":
        from etl_tasks.alert_settings import alerts

        return alerts
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _no_alert_by_default(status: str, force: bool) -> bool:
    """True when, before Luigi is imported, the configuration files alone say this run sends
    nothing: not forced, not a failure, and ``[alerts] on_success`` absent or ``false`` (values
    the ``[alerts]`` section would read as False too). Anything else goes through the section."""
    if force or status in ALWAYS_ALERT or "luigi" in sys.modules:
        return False
    value = luigi_cfg.get("alerts", "on_success", None)
    return value is None or value.strip().lower() == "false"


def should_alert(status: str, *, on_success: bool, force: bool = False) -> bool:
    """FAILED/INCOMPLETE always; other statuses only when ``on_success`` (or forced)."""
    return force or status in ALWAYS_ALERT or on_success


def alert_subject(report: dict[str, Any]) -> str:
    """``[etl_tasks] <pipelines> <date> <STATUS>``, e.g. ``[etl_tasks] a,b 2025-04-10 FAILED``."""
    pipelines = ",".join(report.get("pipelines") or [])
    return f"[etl_tasks] {pipelines} {report.get('date')} {report.get('status')}"


def report_text_path(report: dict[str, Any]) -> Path:
    """Absolute path of the run's ``report.txt``."""
    return (report_dir(dt.date.fromisoformat(str(report["date"]))) / "report.txt").absolute()


def render_report_text(report: dict[str, Any]) -> str:
    """The text report, rendered from the JSON document (the same text as ``report.txt``)."""
    return render_text(RunReport.from_json(report))


def alert_body(report: dict[str, Any], rerun_command: str) -> str:
    """Subject line, the errors, the rerun command and the report path, then the full report."""
    errors = list(report.get("errors") or [])
    lines = [alert_subject(report), ""]
    if errors:
        lines.append(f"Errors ({len(errors)}):")
        lines += [f"  • {error}" for error in errors]
    else:
        lines.append("No errors.")
    lines += ["", f"Rerun: {rerun_command}", f"Report: {report_text_path(report)}", ""]
    return "\n".join(lines) + "\n" + render_report_text(report)


def webhook_payload(
    report: dict[str, Any], rerun_command: str, secrets: list[str]
) -> dict[str, Any]:
    """Slack-compatible ``text`` plus the structured fields a machine consumer wants."""
    errors = [redact(str(e), secrets) for e in report.get("errors") or []]
    shown = [e if len(e) <= WEBHOOK_MAX_ERROR_CHARS else e[:WEBHOOK_MAX_ERROR_CHARS] + "…"
             for e in errors[:WEBHOOK_MAX_ERRORS]]
    text_lines = [f"*{alert_subject(report)}*"]
    text_lines += [f"• {e}" for e in shown]
    if len(errors) > len(shown):
        text_lines.append(f"… and {len(errors) - len(shown)} more errors (see the report)")
    text_lines += [f"Rerun: `{rerun_command}`", f"Report: {report_text_path(report)}"]
    return {
        "text": redact("\n".join(text_lines), secrets),
        "date": report.get("date"),
        "pipelines": list(report.get("pipelines") or []),
        "status": report.get("status"),
        "errors": errors,
        "rerun_command": redact(rerun_command, secrets),
        "report_path": str(report_text_path(report)),
        "total_records": report.get("total_records"),
        "total_duration_s": report.get("total_duration_s"),
        "started_at": report.get("started_at"),
        "finished_at": report.get("finished_at"),
    }


def send_run_alert(report: dict[str, Any], rerun_command: str, *, force: bool = False) -> list[str]:
    """Send the one alert of a run; return the channels that delivered it (``email``, ``webhook``).

    ``report`` is ``RunReport.to_json()``. ``force`` sends whatever the status (e.g. to test the
    set-up). Never raises: each channel logs its own failure and the run's exit code stays its own.
    """
    status = str(report.get("status"))
    if _no_alert_by_default(status, force):
        logger.info("no alert for %s %s (on_success is off)", report.get("date"), status)
        return []
    try:
        from etl_tasks.alert_settings import alerts

        config = alerts()
        if not should_alert(status, on_success=config.on_success, force=force):
            logger.info("no alert for %s %s (on_success is off)", report.get("date"), status)
            return []
        webhook_url = env(WEBHOOK_ENV) or ""
        secrets = _channel_secrets(webhook_url)
        subject = redact(alert_subject(report), secrets)
        body = redact(alert_body(report, rerun_command), secrets)
    except Exception as error:  # an alert must never break the run it reports on
        logger.error("alert not sent: could not prepare it (%s: %s)", type(error).__name__,
                     redact(str(error)))
        return []
    recipients = _recipients(config.email_to)
    channels: list[tuple[str, Callable[[], bool]]] = []
    if config.smtp_host and recipients:
        channels.append(("email", lambda: _send_email(config, recipients, subject, body)))
    if webhook_url:
        channels.append(("webhook", lambda: _post_webhook(
            config, webhook_url, webhook_payload(report, rerun_command, secrets), secrets)))
    if not channels:
        logger.warning(
            "alert for %s %s not sent: no channel configured (set [alerts] smtp_host and "
            "email_to in luigi.cfg, or %s in .env)", report.get("date"), status, WEBHOOK_ENV,
        )
    sent: list[str] = []
    for name, deliver in channels:
        try:
            if deliver():
                sent.append(name)
        except Exception as error:  # a bug in one channel must not cost the other, nor the run
            logger.error("%s alert not sent: %s: %s", name, type(error).__name__,
                         redact(str(error), secrets))
    return sent


def _channel_secrets(webhook_url: str) -> list[str]:
    """Values to mask beyond the usual env secrets: the webhook URL and the token in its path."""
    secrets = [webhook_url] if webhook_url else []
    parts = urlsplit(webhook_url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    # A bare "/" or "/hook" is no secret, and masking it would mangle every path in the text.
    if len(path_and_query) >= 8:
        secrets.append(path_and_query)
    password = os.environ.get(PASSWORD_ENV)
    if password:
        secrets.append(password)
    return secrets


def _recipients(value: str) -> list[str]:
    return [address.strip() for address in value.replace(";", ",").split(",") if address.strip()]


def _send_email(config: alerts, recipients: list[str], subject: str, body: str) -> bool:
    """One SMTP delivery attempt. No retry: a timeout after DATA may already have delivered the
    message, and a second copy is worse than the failure, which the log and the report keep."""
    import smtplib  # with ssl and email: only when an e-mail goes out
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    where = f"{config.smtp_host}:{config.smtp_port}"
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.email_from
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="etl-tasks.local")
    message.set_content(body, charset="utf-8")
    context = ssl.create_default_context(cafile=config.smtp_cafile or None)
    try:
        if config.smtp_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config.smtp_host, config.smtp_port, timeout=config.smtp_timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout_s)
        with client:
            if config.smtp_starttls and not config.smtp_ssl:
                client.starttls(context=context)
            if config.smtp_user:
                password = env(PASSWORD_ENV)
                if not password:
                    logger.error(
                        "e-mail alert not sent: [alerts] smtp_user is set but %s is empty; "
                        "add it to .env or clear smtp_user", PASSWORD_ENV,
                    )
                    return False
                client.login(config.smtp_user, password)
            client.send_message(message, from_addr=config.email_from, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as error:
        logger.error("e-mail alert via %s failed: %s: %s (check [alerts] smtp_* and %s)", where,
                     type(error).__name__, redact(str(error)), PASSWORD_ENV)
        return False
    logger.info("alert e-mailed to %d recipient(s) via %s", len(recipients), where)
    return True


def _post_webhook(config: alerts, url: str, payload: dict[str, Any], secrets: list[str]) -> bool:
    """POST with a timeout; retry connection errors, 5xx and 429 with doubling backoff."""
    import requests

    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    attempts = 1 + max(0, config.webhook_retries)
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json=payload, timeout=config.webhook_timeout_s)
        except requests.RequestException as error:
            # requests puts the full URL (token included) in its messages: mask it.
            problem = f"{type(error).__name__}: {redact(str(error), secrets)}"
            retriable = True
        else:
            if 200 <= response.status_code < 300:
                logger.info("alert posted to webhook host %s", where)
                return True
            problem = f"HTTP {response.status_code}"
            retriable = response.status_code >= 500 or response.status_code == 429
        if not retriable or attempt == attempts:
            logger.error("webhook alert to host %s failed after %d attempt(s): %s (check %s)",
                         where, attempt, problem, WEBHOOK_ENV)
            return False
        delay = config.webhook_backoff_s * 2 ** (attempt - 1)
        logger.warning("webhook alert to host %s: %s; retry %d/%d in %.1fs", where, problem,
                       attempt, attempts - 1, delay)
        time.sleep(delay)
    return False
