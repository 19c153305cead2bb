"""Telling someone a run failed: a short JSON posted to a webhook (ALMS_ALERT_WEBHOOK), the failure in one line.

    {"text": "alms run 1a2b3c4d failed at raw__billing_lines: billing/loop.csv: cannot be read ...",
     "job": "alms", "run_id": "...", "step": "raw__billing_lines", "cause": "billing/loop.csv: ...",
     "run_url": "http://127.0.0.1:3000/runs/..."}

`text` is what chat tools (Slack, Teams and Mattermost incoming webhooks) show; the other fields are for anything that
reads JSON. A webhook URL carries its secret in its path or query, so nothing here writes the URL anywhere: logs and
errors name the scheme and host only (`shown_url`), and any error text is scrubbed of the URL and its parts.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 10
MAX_CAUSE = 500  # characters of the cause kept in the message


class AlertError(RuntimeError):
    """The alert could not be delivered; the message never holds the URL's secret parts."""


def failure_alert(job: str, run_id: str, step: str | None, cause: str, run_url: str) -> dict:
    """The JSON body of a failure alert."""
    cause = " ".join(cause.split())
    if len(cause) > MAX_CAUSE:
        cause = cause[: MAX_CAUSE - 3] + "..."
    where = f" at {step}" if step else ""
    return {
        "text": f"{job} run {run_id[:8]} failed{where}: {cause} ({run_url})",
        "job": job,
        "run_id": run_id,
        "step": step,
        "cause": cause,
        "run_url": run_url,
    }


def shown_url(url: str) -> str:
    """What may be shown of a webhook URL: its scheme and host (and port), never its path, query or user."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def scrub_url(text: str, url: str) -> str:
    """`text` without the URL or any of its secret-bearing parts (path segments, query values, user, password)."""
    parts = urllib.parse.urlsplit(url)
    secrets = {url, parts.path, parts.query, parts.username or "", parts.password or "", parts.netloc}
    secrets |= {segment for segment in parts.path.split("/") if len(segment) >= 6}
    secrets |= {value for _, value in urllib.parse.parse_qsl(parts.query) if len(value) >= 6}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def post_alert(url: str, payload: dict, timeout: float = TIMEOUT_SECONDS) -> int:
    """POST `payload` as JSON to `url`; the HTTP status. AlertError (scrubbed) when it is not delivered (no answer,
    or a status other than 2xx)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AlertError("ALMS_ALERT_WEBHOOK must be an http:// or https:// URL")
    headers = {"Content-Type": "application/json", "User-Agent": "alms-alert"}
    target = url
    if parts.username is not None:  # user:password@host: HTTP basic authentication (urllib does not read it)
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        target = urllib.parse.urlunsplit(parts._replace(netloc=host))
    request = urllib.request.Request(target, data=json.dumps(payload).encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        raise AlertError(scrub_url(f"the webhook at {shown_url(url)} answered HTTP {error.code}", url)) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AlertError(scrub_url(f"the webhook at {shown_url(url)} could not be reached: {reason}", url)) from None
