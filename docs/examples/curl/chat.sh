#!/usr/bin/env bash
# A plain chat completion with curl; jq builds the JSON body and picks fields out.
#
#   VIBEROUTER_API_KEY=vr-... ./chat.sh
#
# VIBEROUTER_BASE_URL (default http://127.0.0.1:8080/v1) and VIBEROUTER_MODEL (default
# "echo", the offline echo model) point it elsewhere.
set -euo pipefail
BASE_URL="${VIBEROUTER_BASE_URL:-http://127.0.0.1:8080/v1}"
MODEL="${VIBEROUTER_MODEL:-echo}"
: "${VIBEROUTER_API_KEY:?set VIBEROUTER_API_KEY to a VibeRouter key}"

body=$(jq -n --arg model "$MODEL" '{
  model: $model,
  messages: [
    {role: "system", content: "You are a concise assistant."},
    {role: "user", content: "Hello, VibeRouter!"}
  ],
  max_tokens: 100
}')

# --fail-with-body: exit non-zero on an error status, still printing the error body.
response=$(curl -sS --fail-with-body "$BASE_URL/chat/completions" \
  -H "Authorization: Bearer $VIBEROUTER_API_KEY" \
  -H "Content-Type: application/json" \
  -d "$body")

jq -r '.choices[0].message.content' <<<"$response"
jq -r '"finish_reason=\(.choices[0].finish_reason)"' <<<"$response"
jq -r '"tokens: prompt=\(.usage.prompt_tokens) completion=\(.usage.completion_tokens)"' \
  <<<"$response"
