"""Run alerts over real sockets: an aiosmtpd SMTP server and an http.server webhook on 127.0.0.1.

Each test feeds ``send_run_alert`` a report built with the real report classes and asserts on what
the servers received: one message per run, subject/body/JSON contents, retries, secrets masked,
delivery from a TTY, STARTTLS and implicit TLS with a throw-away certificate.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import logging
import os
import pty
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import luigi
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from etl_tasks.alerts import (
    render_report_text,
    send_run_alert,
    webhook_payload,
)
from etl_tasks.pipelines import rerun_command as rerun_command_for
from etl_tasks.report import STAGES, render_text
from tests.httpfixture import Reply, ScriptedServer
from tests.report_samples import Stage, sample_report

DATE = "2025-04-10"
HOOK_PATH = "/hooks/T0KEN-abc123-very-secret"
SMTP_USER = "etl-alerts"
SMTP_PASSWORD = "smtp-pass-4711"
RERUN = f"cd /srv/etl && .venv/bin/etl-run --date {DATE} --pipeline all"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Received:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def body(self) -> str:
        """The text part, with the wire's CRLF line ends back to LF."""
        return self.message.get_content().replace("\r\n", "\n")


@dataclass
class Recorder:
    """aiosmtpd handler that keeps every message (handle_DATA returns before the 250 reply, so a
    message is recorded by the time ``smtplib`` returns)."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        login = session.auth_data.login.decode() if session.auth_data else None
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                     or envelope.content, session.ssl is not None, login)
        )
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        """Accept exactly SMTP_USER / SMTP_PASSWORD."""
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        ok = auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
        return AuthResult(success=ok, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_server(**smtp_kwargs: Any) -> Iterator[tuple[Recorder, int]]:
    """A real SMTP server on 127.0.0.1:<free port> recording what it receives."""
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port,
                            authenticator=recorder.authenticate, auth_require_tls=False,
                            **smtp_kwargs)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def alert_config(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Write-through access to ``[alerts]`` (every option restored afterwards), every option that
    matters pinned (so a luigi.cfg [alerts] section cannot leak in), and no alert env keys."""
    config = luigi.configuration.get_config()
    for key in ("ETL_ALERT_WEBHOOK_URL", "ETL_SMTP_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    original: dict[str, str | None] = {}

    class Section(dict):
        """Setting a key sets the luigi.cfg option (alerts() reads config at each call)."""

        def __setitem__(self, key: str, value: str) -> None:
            original.setdefault(key, config.get("alerts", key, None))
            super().__setitem__(key, value)
            config.set("alerts", key, value)

    section = Section()
    pinned = {
        "on_success": "false", "smtp_host": "", "smtp_port": "25", "smtp_starttls": "false",
        "smtp_ssl": "false", "smtp_cafile": "", "smtp_user": "", "webhook_retries": "2",
        "webhook_backoff_s": "0.01", "webhook_timeout_s": "5",
        "email_to": "ops@example.test, data@example.test", "email_from": "etl@example.test",
    }
    for key, value in pinned.items():
        section[key] = value
    yield section
    for key, value in original.items():
        if value is None:
            config.remove_option("alerts", key)
        else:
            config.set("alerts", key, value)
    luigi.task_register.Register.clear_instance_cache()


def failed_report(error: str = "ExtractError: HTTP 503 from /helix/streams (5 retries)") -> dict:
    """A FAILED two-pipeline report whose only error is ``error``."""
    return sample_report(DATE, {
        "twitch": {"extract": Stage("FAILED", error=error)},
        "btg": {},
    }).to_json()


def test_failed_run_sends_one_email_and_one_webhook(alert_config: dict[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    report = failed_report()
    with smtp_server() as (smtp, port), ScriptedServer() as hook:
        hook.always(HOOK_PATH, Reply(200, body="ok"))
        alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(port)
        monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", hook.url + HOOK_PATH)
        sent = send_run_alert(report, RERUN)
        posts = hook.requests_to(HOOK_PATH)

    assert sent == ["email", "webhook"]
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail.rcpt_tos == ["ops@example.test", "data@example.test"]
    assert mail.mail_from == "etl@example.test"
    assert mail.message["Subject"] == f"[etl_tasks] twitch,btg {DATE} FAILED"
    body = mail.body
    assert f"Rerun: {RERUN}\n" in body
    assert "Errors (1):" in body and "HTTP 503 from /helix/streams" in body
    assert f"Report: {Path.cwd() / 'output' / 'reports' / f'date={DATE}' / 'report.txt'}" in body
    assert "RELATÓRIO FINAL DE EXECUÇÃO" in body and f"Data: {DATE}" in body
    assert "Status: FAILED" in body

    assert len(posts) == 1 and posts[0].method == "POST"
    assert posts[0].header("Content-Type") == "application/json"
    payload = json.loads(posts[0].body)
    assert payload["date"] == DATE and payload["status"] == "FAILED"
    assert payload["pipelines"] == ["twitch", "btg"]
    assert payload["rerun_command"] == RERUN
    assert payload["errors"] == report["errors"]
    assert payload["report_path"].endswith(f"reports/date={DATE}/report.txt")
    assert f"[etl_tasks] twitch,btg {DATE} FAILED" in payload["text"]
    assert RERUN in payload["text"] and "HTTP 503" in payload["text"]


def test_success_alerts_only_when_on_success(alert_config: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    success = sample_report(DATE, {"twitch": {}}).to_json()
    incomplete = sample_report(DATE, {"twitch": {"load": Stage("NOT RUN")}}).to_json()
    assert (success["status"], incomplete["status"]) == ("SUCCESS", "INCOMPLETE")
    with smtp_server() as (smtp, port), ScriptedServer() as hook:
        hook.always(HOOK_PATH, Reply(204))
        alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(port)
        monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", hook.url + HOOK_PATH)

        assert send_run_alert(success, RERUN) == []  # on_success defaults to false
        assert (len(smtp.messages), len(hook.requests)) == (0, 0)

        assert send_run_alert(incomplete, RERUN) == ["email", "webhook"]
        assert (len(smtp.messages), len(hook.requests)) == (1, 1)
        assert smtp.messages[0].message["Subject"] == f"[etl_tasks] twitch {DATE} INCOMPLETE"

        assert send_run_alert(success, RERUN, force=True) == ["email", "webhook"]
        alert_config["on_success"] = "true"
        assert send_run_alert(success, RERUN) == ["email", "webhook"]
        assert (len(smtp.messages), len(hook.requests)) == (3, 3)
    assert smtp.messages[2].message["Subject"] == f"[etl_tasks] twitch {DATE} SUCCESS"
    assert "No errors." in smtp.messages[2].body


def test_webhook_retries_5xx_then_delivers(alert_config: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer() as hook:
        hook.script(HOOK_PATH, Reply(503), Reply(500), Reply(200))
        monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", hook.url + HOOK_PATH)
        assert send_run_alert(failed_report(), RERUN) == ["webhook"]  # no smtp_host: no e-mail
        assert [r.status for r in hook.requests_to(HOOK_PATH)] == [503, 500, 200]
        bodies = {r.body for r in hook.requests_to(HOOK_PATH)}
        assert len(bodies) == 1  # the same message each attempt: a retry, not a second alert


def test_webhook_4xx_is_not_retried(alert_config: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    with ScriptedServer() as hook:
        hook.always(HOOK_PATH, Reply(404, body="no such hook"))
        monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", hook.url + HOOK_PATH)
        with caplog.at_level(logging.INFO, logger="etl_tasks.alerts"):
            assert send_run_alert(failed_report(), RERUN) == []
        assert len(hook.requests_to(HOOK_PATH)) == 1
    assert "failed after 1 attempt(s): HTTP 404" in caplog.text


def test_channels_down_log_and_never_raise(alert_config: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    dead_port = free_port()  # nothing listens there: connection refused at once
    alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(dead_port)
    monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{dead_port}{HOOK_PATH}")
    with caplog.at_level(logging.INFO, logger="etl_tasks.alerts"):
        assert send_run_alert(failed_report(), RERUN) == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"e-mail alert via 127.0.0.1:{dead_port} failed" in m for m in errors), errors
    assert any(f"webhook alert to host 127.0.0.1:{dead_port} failed after 3 attempt(s)" in m
               for m in errors), errors
    assert len([m for m in warnings if "retry" in m]) == 2
    assert "T0KEN" not in caplog.text and HOOK_PATH not in caplog.text


def test_secrets_are_masked_in_both_channels(alert_config: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    twitch_secret = "tw-client-secret-98765"
    monkeypatch.setenv("TWITCH_CLIENT_SECRET", twitch_secret)
    monkeypatch.setenv("ETL_SMTP_PASSWORD", SMTP_PASSWORD)
    with smtp_server() as (smtp, port), ScriptedServer() as hook:
        hook.always(HOOK_PATH, Reply(200))
        webhook_url = hook.url + HOOK_PATH
        monkeypatch.setenv("ETL_ALERT_WEBHOOK_URL", webhook_url)
        alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(port)
        alert_config["smtp_user"] = SMTP_USER
        error = (f"AuthError: token request with secret {twitch_secret} rejected; "
                 f"smtp said {SMTP_PASSWORD}; hook {webhook_url}")
        assert send_run_alert(failed_report(error), RERUN) == ["email", "webhook"]
        raw_post = hook.requests_to(HOOK_PATH)[0].body.decode("utf-8")

    assert smtp.logins == [(SMTP_USER, SMTP_PASSWORD)]  # the password did reach the server
    assert smtp.messages[0].login == SMTP_USER
    mail_text = smtp.messages[0].raw.decode("utf-8", "replace") + smtp.messages[0].body
    for leaked in (twitch_secret, SMTP_PASSWORD, "T0KEN"):
        assert leaked not in mail_text
        assert leaked not in raw_post
    assert "AuthError: token request with secret *** rejected" in smtp.messages[0].body
    assert "secret *** rejected" in json.loads(raw_post)["errors"][0]


def test_smtp_user_without_password_is_logged_not_raised(
    alert_config: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with smtp_server() as (smtp, port):
        alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(port)
        alert_config["smtp_user"] = SMTP_USER
        with caplog.at_level(logging.ERROR, logger="etl_tasks.alerts"):
            assert send_run_alert(failed_report(), RERUN) == []
    assert smtp.messages == [] and smtp.logins == []
    assert "ETL_SMTP_PASSWORD is empty" in caplog.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 (the name smtplib verifies)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_verify_the_server(alert_config: dict[str, str], certificate: tuple[Path, Path],
                                     mode: str) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_kwargs = ({"tls_context": server_context, "require_starttls": True}
                     if mode == "starttls" else {"ssl_context": server_context})
    with smtp_server(**server_kwargs) as (smtp, port):
        alert_config["smtp_host"], alert_config["smtp_port"] = "127.0.0.1", str(port)
        alert_config["smtp_starttls" if mode == "starttls" else "smtp_ssl"] = "true"
        # Without our CA the certificate is rejected: verification is really on.
        assert send_run_alert(failed_report(), RERUN) == []
        alert_config["smtp_cafile"] = str(cert)
        assert send_run_alert(failed_report(), RERUN) == ["email"]
    assert len(smtp.messages) == 1
    assert smtp.messages[0].tls is (mode == "starttls")  # implicit TLS has no STARTTLS session


def test_sends_when_stdout_is_a_tty(workdir: Path) -> None:
    """Luigi's own mailer is silent on a TTY; ours must not be. The child's stdout is a pty."""
    report_file = workdir / "report.json"
    report_file.write_text(json.dumps(failed_report()), encoding="utf-8")
    with smtp_server() as (smtp, port):
        config_file = workdir / "alerts.cfg"
        config_file.write_text(
            f"[alerts]\nsmtp_host = 127.0.0.1\nsmtp_port = {port}\nsmtp_starttls = false\n"
            "email_to = ops@example.test\n", encoding="utf-8")
        code = (
            "import json, sys\n"
            "from etl_tasks.alerts import send_run_alert\n"
            f"report = json.load(open({str(report_file)!r}))\n"
            f"print('tty', sys.stdout.isatty(), send_run_alert(report, {RERUN!r}))\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETL_")}
        env["LUIGI_CONFIG_PATH"] = str(config_file)
        master, slave = pty.openpty()
        child = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave,
                                 stderr=slave, env=env, cwd=workdir)
        os.close(slave)
        output = b""
        with contextlib.suppress(OSError):  # EIO once the child has closed the pty
            while chunk := os.read(master, 4096):
                output += chunk
        os.close(master)
        assert child.wait(timeout=60) == 0, output.decode("utf-8", "replace")
    assert "tty True ['email']" in output.decode("utf-8", "replace")
    assert len(smtp.messages) == 1


def test_body_text_is_the_report_text() -> None:
    report = sample_report(DATE, {"twitch": {"load": Stage("FAILED", error="boom")}, "btg": {}})
    assert render_report_text(report.to_json()) == render_text(report)


def test_rerun_commands_point_at_installed_scripts(tmp_path: Path) -> None:
    twitch = rerun_command_for(DATE, ["twitch"], cwd=REPO_ROOT)
    both = rerun_command_for(DATE, ["twitch", "btg"], cwd=REPO_ROOT)
    btg = rerun_command_for(DATE, ["btg"], cwd=REPO_ROOT)
    venv_bin = Path(sys.executable).absolute().parent
    prefix = f"cd {shlex.quote(str(REPO_ROOT))} && "
    if venv_bin.parent.parent == REPO_ROOT:  # the project's own .venv: paths relative to it
        assert twitch == prefix + f".venv/bin/etl-run --date {DATE} --pipeline twitch"
        assert btg == prefix + f".venv/bin/orquestrador-btg --data {DATE}"
    assert both.endswith(f"etl-run --date {DATE} --pipeline all")
    elsewhere = tmp_path / "dir with space"
    elsewhere.mkdir()
    command = rerun_command_for(DATE, ["btg"], cwd=elsewhere)
    words = shlex.split(command)
    assert words[:3] == ["cd", str(elsewhere), "&&"]
    assert words[3:] == [str(venv_bin / "orquestrador-btg"), "--data", DATE]
    # Every command names a script that exists, so it can be pasted as it is.
    for line in (twitch, both, btg):
        script = shlex.split(line)[3]
        assert (REPO_ROOT / script).is_file(), script


def test_webhook_text_stays_short_but_fields_keep_every_error(workdir: Path) -> None:
    stages = {stage: Stage("FAILED", error="x" * 1000) for stage in STAGES}
    pipelines = {name: stages for name in ("twitch", "btg", "p3", "p4")}
    report = sample_report(DATE, pipelines).to_json()
    payload = webhook_payload(report, RERUN, [])
    assert len(payload["errors"]) == 12 and all("x" * 1000 in e for e in payload["errors"])
    assert "… and 2 more errors (see the report)" in payload["text"]
    assert len(payload["text"]) < 4000  # Slack's recommended ceiling for a message text
