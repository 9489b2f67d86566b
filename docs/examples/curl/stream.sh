#!/usr/bin/env bash
# A streamed chat completion with curl. The answer is server-sent events: one
# `data: {chunk}` line per event, a blank line between events, `: keep-alive` comments
# while the model is silent, and `data: [DONE]` at the end of a successful stream.
#
#   VIBEROUTER_API_KEY=vr-... ./stream.sh
set -euo pipefail
BASE_URL="${VIBEROUTER_BASE_URL:-http://127.0.0.1:8080/v1}"
MODEL="${VIBEROUTER_MODEL:-echo}"
: "${VIBEROUTER_API_KEY:?set VIBEROUTER_API_KEY to a VibeRouter key}"

body=$(jq -n --arg model "$MODEL" '{
  model: $model,
  messages: [{role: "user", content: "Stream these words one by one, please."}],
  stream: true,
  stream_options: {include_usage: true}
}')

# -N: print each event as it arrives. sed keeps the data of each event, grep drops the
# [DONE] sentinel, and jq prints the text of each chunk as it comes.
curl -sS -N --fail-with-body "$BASE_URL/chat/completions" \
  -H "Authorization: Bearer $VIBEROUTER_API_KEY" \
  -H "Content-Type: application/json" \
  -d "$body" |
  sed -un 's/^data: //p' |
  grep --line-buffered -v '^\[DONE\]$' |
  jq --unbuffered -rj '
    if .error then "\nstream failed: \(.error): \(.message)\n"
    elif (.choices | length) == 0 and .usage then
      "tokens: prompt=\(.usage.prompt_tokens) completion=\(.usage.completion_tokens)\n"
    else .choices[] | (.delta.content // "") +
      (if .finish_reason then "\nfinish_reason=\(.finish_reason)\n" else "" end)
    end'
