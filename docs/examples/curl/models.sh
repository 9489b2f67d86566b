#!/usr/bin/env bash
# List the models VibeRouter publishes, with curl and jq. Besides the OpenAI fields
# every card carries context_length, max_output_tokens, pricing, capabilities, status.
#
#   VIBEROUTER_API_KEY=vr-... ./models.sh
set -euo pipefail
BASE_URL="${VIBEROUTER_BASE_URL:-http://127.0.0.1:8080/v1}"
: "${VIBEROUTER_API_KEY:?set VIBEROUTER_API_KEY to a VibeRouter key}"

curl -sS --fail-with-body "$BASE_URL/models" \
  -H "Authorization: Bearer $VIBEROUTER_API_KEY" |
  jq -r '.data[] |
    "\(.id)\tcontext=\(.context_length)\tstatus=\(.status)\ttools=\(.capabilities.tools)"'
