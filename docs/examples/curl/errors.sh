#!/usr/bin/env bash
# Handling VibeRouter's errors with curl.
#
# Every error is {"error": "<code>", "message": "<text>"} with an HTTP status; in a
# stream that has started it is one `data: {"error": ..., "message": ...}` event, and
# the stream ends without [DONE]. This script provokes four of them against the echo
# model:
#
# * 401 invalid_api_key      a wrong key;
# * 429 rate_limit_exceeded  a second request on a key limited to 1 request a minute
#                            (set VIBEROUTER_LIMITED_API_KEY to such a key:
#                            `viberouter keys create <account> --rpm 1`);
# * 502 model_error          the upstream fails (the echo's `[[echo:status=500]]`);
# * a mid-stream model_error after some text (the echo's `[[echo:error-midstream]]`).
#
#   VIBEROUTER_API_KEY=vr-... VIBEROUTER_LIMITED_API_KEY=vr-... ./errors.sh
set -euo pipefail
BASE_URL="${VIBEROUTER_BASE_URL:-http://127.0.0.1:8080/v1}"
MODEL="${VIBEROUTER_MODEL:-echo}"
: "${VIBEROUTER_API_KEY:?set VIBEROUTER_API_KEY to a VibeRouter key}"

# What a client should do about each error code.
declare -A ACTIONS=(
  [invalid_request]="fix the request; the message names the field"
  [invalid_model]="use a model listed by GET /v1/models"
  [context_length_exceeded]="shorten the messages or lower max_tokens"
  [content_filter]="change the content; retrying will not help"
  [invalid_api_key]="check the key (VIBEROUTER_API_KEY)"
  [expired_api_key]="ask the operator for a new key"
  [account_not_active]="ask the operator to reactivate the account"
  [rate_limit_exceeded]="wait Retry-After seconds, then retry"
  [quota_exceeded]="stop until the quota period resets"
  [concurrent_requests]="retry when one of your requests has finished"
  [server_error]="retry later; report the X-Request-ID to the operator"
  [model_error]="retry; the router already tried every deployment it has"
  [timeout]="retry, perhaps with a smaller max_tokens"
)
HEADERS=$(mktemp)
trap 'rm -f "$HEADERS"' EXIT

# chat KEY TEXT: one non-streamed request; sets $status and $body, headers in $HEADERS.
chat() {
  local out
  out=$(jq -n --arg model "$MODEL" --arg text "$2" \
    '{model: $model, messages: [{role: "user", content: $text}]}' |
    curl -sS -D "$HEADERS" -w '\n%{http_code}' "$BASE_URL/chat/completions" \
      -H "Authorization: Bearer $1" -H "Content-Type: application/json" -d @-)
  status=${out##*$'\n'}
  body=${out%$'\n'*}
}

# report CASE: print what the last request's error was and what to do about it.
report() {
  local code retry_after line
  code=$(jq -r .error <<<"$body")
  line="$1: $status $code"
  retry_after=$(grep -i '^retry-after:' "$HEADERS" | tr -d '\r' | cut -d' ' -f2 || true)
  if [ -n "$retry_after" ]; then line="$line, retry after $retry_after s"; fi
  echo "$line"
  echo "  message: $(jq -r .message <<<"$body")"
  echo "  action: ${ACTIONS[$code]:-see the message}"
}

# 1. A wrong key.
chat "vr-not-a-real-key" "hello"
report "unauthorized"

# 2. Over the rate limit: 429 with Retry-After (whole seconds).
if [ -n "${VIBEROUTER_LIMITED_API_KEY:-}" ]; then
  for _ in 1 2; do
    chat "$VIBEROUTER_LIMITED_API_KEY" "hello"
    if [ "$status" = 429 ]; then
      report "rate limited"
      break
    fi
  done
else
  echo "rate limited: skipped (set VIBEROUTER_LIMITED_API_KEY to a key with rpm=1)"
fi

# 3. The upstream fails before answering.
chat "$VIBEROUTER_API_KEY" "hello [[echo:status=500]]"
report "upstream failure"

# 4. The upstream fails mid-stream: the status was already 200, so the error is the
#    last event. Keep the text that arrived before it.
events=$(jq -n --arg model "$MODEL" '{model: $model, stream: true,
    messages: [{role: "user", content: "Count one two three four five [[echo:error-midstream]]"}]}' |
  curl -sS -N "$BASE_URL/chat/completions" \
    -H "Authorization: Bearer $VIBEROUTER_API_KEY" -H "Content-Type: application/json" -d @- |
  sed -n 's/^data: //p' | grep -v '^\[DONE\]$')
code=$(jq -r 'select(.error) | .error' <<<"$events")
if [ -n "$code" ]; then
  received=$(jq -sj '[.[] | .choices[]?.delta.content // empty] | add | rtrimstr(" ")' \
    <<<"$events")
  echo "mid-stream: $code after '$received'"
  echo "  action: ${ACTIONS[$code]:-see the message}"
fi
