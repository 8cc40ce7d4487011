#!/usr/bin/env python3
"""A stand-in SOAR for drills: an HTTP trigger, an email connector, a fallback.

POST /trigger           {"nonce", "title", "severity"}: notify by email
                        (SMTP); if the connector is disabled or the send
                        fails, post to the Slack webhook instead.
POST /connectors/email/disable | /enable   what inject/restore call.
GET  /health            readiness.

Usage: soar.py PORT SMTP_HOST:PORT SLACK_URL
"""
import json
import smtplib
import sys
import urllib.request
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
SMTP_HOST, SMTP_PORT = sys.argv[2].rsplit(":", 1)
SLACK_URL = sys.argv[3]
state = {"email": True}


def send_email(title):
    msg = EmailMessage()
    msg["From"] = "soar@example.test"
    msg["To"] = "soc@example.test"
    msg["Subject"] = title
    msg.set_content(title)
    with smtplib.SMTP(SMTP_HOST, int(SMTP_PORT), timeout=3) as s:
        s.send_message(msg)


def send_slack(title):
    body = json.dumps({"text": title}).encode()
    req = urllib.request.Request(SLACK_URL, data=body, headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=3).read()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200 if self.path == "/health" else 404, "ok")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if self.path == "/connectors/email/disable":
            state["email"] = False
            return self.answer(200, "disabled")
        if self.path == "/connectors/email/enable":
            state["email"] = True
            return self.answer(200, "enabled")
        if self.path != "/trigger":
            return self.answer(404, "no such route")
        alert = json.loads(body)
        title = "%s %s" % (alert.get("title", ""), alert["nonce"])
        try:
            if not state["email"]:
                raise RuntimeError("email connector disabled")
            send_email(title)
        except Exception:
            send_slack(title)
        self.answer(202, "queued")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
