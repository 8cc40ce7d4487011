#!/bin/sh
# A script pipeline: email the SOC first (curl speaks SMTP); when that
# fails, post to the SOC's Slack webhook. $1 is the nonce-bearing title,
# $2 the SMTP server (host:port), $3 the Slack webhook URL.
set -u
title=$1
message=$(printf 'From: alerts@example.test\r\nTo: soc@example.test\r\nSubject: %s\r\n\r\n%s\r\n' "$title" "$title")
if printf '%s' "$message" | curl -sS --max-time 5 "smtp://$2" \
    --mail-from alerts@example.test --mail-rcpt soc@example.test -T - 2>/dev/null; then
  exit 0
fi
exec curl -sS --fail --max-time 5 -H 'Content-Type: application/json' \
  --data "{\"text\": \"$title\"}" "$3"
