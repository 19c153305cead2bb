"""The run-failure sensor posts a one-line alert to ALMS_ALERT_WEBHOOK (pipelines/automation.py,
assets/rules/alerts.py), tested against a local HTTP server in a thread; the webhook URL's secret appears nowhere."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from assets.rules.alerts import AlertError, failure_alert, post_alert, scrub_url, shown_url
from pipelines.definitions import build_definitions

SECRET = "T0KEN-s3cret-b4d9"
CAUSE = "billing/loop.csv: cannot be read: Too many levels of symbolic links (ELOOP)"


class Webhook:
    """A local HTTP server that records what is posted to it and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.posts = status, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(
                    {
                        "path": self.path,
                        "type": self.headers["Content-Type"],
                        "authorization": self.headers["Authorization"],
                        "body": json.loads(body),
                    }
                )
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://alms:{SECRET}@127.0.0.1:{self.server.server_port}/hooks/{SECRET}?token={SECRET}"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@dg.op
def ingest():
    raise dg.Failure(description=CAUSE, allow_retries=False)


@dg.job(name="alms")
def failing_job():
    ingest()


def failed_run_context(instance) -> dg.RunFailureSensorContext:
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    event = next(e for e in result.all_events if e.event_type_value in ("PIPELINE_FAILURE", "RUN_FAILURE"))
    return dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
    ).for_run_failure()


def test_a_failed_run_posts_job_run_step_cause_and_link(pipeline_env, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with Webhook() as hook, dg.instance_for_test() as instance:
        monkeypatch.setenv("ALMS_ALERT_WEBHOOK", hook.url)
        monkeypatch.setenv("ALMS_UI_URL", "http://dagster.example:3000/")
        defs = build_definitions()
        sensor = defs.resolve_sensor_def("alert_on_run_failure")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        context = failed_run_context(instance)
        sensor(context)
        run_id = context.dagster_run.run_id
    (post,) = hook.posts
    assert post["path"] == f"/hooks/{SECRET}?token={SECRET}" and post["type"] == "application/json"
    assert post["authorization"] == "Basic " + base64.b64encode(f"alms:{SECRET}".encode()).decode()
    assert post["body"] == {
        "text": f"alms run {run_id[:8]} failed at ingest: {CAUSE} (http://dagster.example:3000/runs/{run_id})",
        "job": "alms",
        "run_id": run_id,
        "step": "ingest",
        "cause": CAUSE,
        "run_url": f"http://dagster.example:3000/runs/{run_id}",
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET not in logged
    # the definitions hold the variable's name, not its value (the UI shows resources' config)
    assert SECRET not in repr(defs.resources["settings"])


@pytest.mark.parametrize("status", [500, None])
def test_an_alert_that_cannot_be_delivered_fails_the_tick_without_the_secret(pipeline_env, monkeypatch, status):
    with Webhook(status or 200) as hook, dg.instance_for_test() as instance:
        url = hook.url
        if status is None:  # nobody listens on that port
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            url = url.replace(f":{hook.server.server_port}/", f":{port}/")
        monkeypatch.setenv("ALMS_ALERT_WEBHOOK", url)
        sensor = build_definitions().resolve_sensor_def("alert_on_run_failure")
        with pytest.raises(AlertError) as failed:
            sensor(failed_run_context(instance))
    message = str(failed.value)
    assert SECRET not in message and message.startswith("the webhook at http://127.0.0.1:")
    assert ("answered HTTP 500" in message) if status else ("could not be reached" in message)


def test_no_webhook_no_sensor_and_a_bad_one_is_refused_without_echo(pipeline_env, monkeypatch):
    names = [sensor.name for sensor in build_definitions().sensors]
    assert "alert_on_run_failure" not in names
    from assets.resources import SettingsError

    monkeypatch.setenv("ALMS_ALERT_WEBHOOK", f"ftp://example.com/{SECRET}")
    with pytest.raises(SettingsError) as refused:
        build_definitions()
    assert "ALMS_ALERT_WEBHOOK" in str(refused.value) and SECRET not in str(refused.value)


def test_the_alert_rules():
    body = failure_alert("alms", "0123456789abcdef", None, "line one\n  line two " + "x" * 600, "http://ui/runs/0")
    assert body["text"].startswith("alms run 01234567 failed: line one line two x")
    assert len(body["cause"]) == 500 and body["cause"].endswith("...") and body["step"] is None
    url = f"https://user:{SECRET}@hooks.example.com:8443/services/{SECRET}/x?key={SECRET}&a=1"
    assert shown_url(url) == "https://hooks.example.com:8443"
    assert SECRET not in scrub_url(f"failed posting to {url} ({SECRET})", url)
    with pytest.raises(AlertError, match="http:// or https://"):
        post_alert("file:///etc/passwd", {})
