#!/usr/bin/env bash
# A streamed tool call and its round trip with curl and jq.
#
# 1. Offer a tool and stream the answer; the model calls the tool. Tool-call arguments
#    arrive in fragments spread over many events: join them per `index`.
# 2. Run the tool (here a shell function), send its result back as a `tool` message.
# 3. Stream the model's final answer, which uses the result.
#
#   VIBEROUTER_API_KEY=vr-... ./tools.sh
set -euo pipefail
BASE_URL="${VIBEROUTER_BASE_URL:-http://127.0.0.1:8080/v1}"
MODEL="${VIBEROUTER_MODEL:-echo}"
: "${VIBEROUTER_API_KEY:?set VIBEROUTER_API_KEY to a VibeRouter key}"

TOOLS='[{
  "type": "function",
  "function": {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
      "type": "object",
      "properties": {
        "city": {"type": "string", "description": "City name, e.g. Paris"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
      },
      "required": ["city"]
    }
  }
}]'

# The tool itself: arguments JSON in, result JSON out.
get_weather() {
  jq -c '{city: .city, forecast: "sunny", temperature: 21, unit: (.unit // "celsius")}' <<<"$1"
}

# POST a streamed request for these messages; print the chunks' JSON, one per line.
stream_events() {
  jq -n --arg model "$MODEL" --argjson messages "$1" --argjson tools "$TOOLS" \
    '{model: $model, messages: $messages, tools: $tools, stream: true}' |
    curl -sS -N --fail-with-body "$BASE_URL/chat/completions" \
      -H "Authorization: Bearer $VIBEROUTER_API_KEY" \
      -H "Content-Type: application/json" \
      -d @- |
    sed -un 's/^data: //p' |
    grep --line-buffered -v '^\[DONE\]$'
}

messages='[{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]'

# 1. Collect the streamed tool calls: the first fragment of a call has its id and name,
#    later ones only more argument text.
events=$(stream_events "$messages")
calls=$(jq -s -c '
  [.[] | .choices[]?.delta.tool_calls[]?] | group_by(.index) |
  map({id: (map(.id // empty) | first),
       type: "function",
       function: {name: (map(.function.name // empty) | first),
                  arguments: (map(.function.arguments // "") | add)}})' <<<"$events")
if [ "$(jq length <<<"$calls")" -eq 0 ]; then
  echo "the model answered without calling the tool" >&2
  exit 1
fi

# 2. The assistant's tool calls go back into the conversation, then one result per call.
messages=$(jq -c --argjson calls "$calls" '. + [{role: "assistant", content: null, tool_calls: $calls}]' \
  <<<"$messages")
for i in $(seq 0 $(($(jq length <<<"$calls") - 1))); do
  name=$(jq -r ".[$i].function.name" <<<"$calls")
  id=$(jq -r ".[$i].id" <<<"$calls")
  arguments=$(jq -c ".[$i].function.arguments | fromjson" <<<"$calls")
  echo "tool call: $name($arguments)"
  result=$(get_weather "$arguments")
  messages=$(jq -c --arg id "$id" --arg result "$result" \
    '. + [{role: "tool", tool_call_id: $id, content: $result}]' <<<"$messages")
done

# 3. Stream the final answer.
printf 'answer: '
stream_events "$messages" | jq --unbuffered -rj '
  if .error then "\nstream failed: \(.error): \(.message)\n"
  else .choices[] | (.delta.content // "") + (if .finish_reason then "\n" else "" end)
  end'
