// Handling VibeRouter's errors with the official openai package.
//
// Every error is {"error": "<code>", "message": "<text>"} with an HTTP status; in a
// stream that has started it is one `data: {"error": ..., "message": ...}` event, and
// the stream ends. The SDK throws an APIError subclass whose `error` property holds the
// code and whose `headers` hold Retry-After. This script provokes four errors against
// the echo model:
//
// * 401 invalid_api_key      a wrong key;
// * 429 rate_limit_exceeded  a second request on a key limited to 1 request a minute
//                            (set VIBEROUTER_LIMITED_API_KEY to such a key:
//                            `viberouter keys create <account> --rpm 1`);
// * 502 model_error          the upstream fails (the echo's `[[echo:status=500]]`);
// * a mid-stream model_error after some text (the echo's `[[echo:error-midstream]]`).
//
//   VIBEROUTER_API_KEY=vr-... VIBEROUTER_LIMITED_API_KEY=vr-... node errors.mjs
//
// The SDK retries 429 and 5xx answers by itself (`maxRetries`, 2 by default), waiting
// as Retry-After says. This script turns that off to show the errors.
import OpenAI from "openai";

const baseURL = process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1";
const model = process.env.VIBEROUTER_MODEL ?? "echo";

// What a client should do about each error code.
const ACTIONS = {
  invalid_request: "fix the request; the message names the field",
  invalid_model: "use a model listed by GET /v1/models",
  context_length_exceeded: "shorten the messages or lower max_tokens",
  content_filter: "change the content; retrying will not help",
  invalid_api_key: "check the key (VIBEROUTER_API_KEY)",
  expired_api_key: "ask the operator for a new key",
  account_not_active: "ask the operator to reactivate the account",
  rate_limit_exceeded: "wait Retry-After seconds, then retry",
  quota_exceeded: "stop until the quota period resets",
  concurrent_requests: "retry when one of your requests has finished",
  server_error: "retry later; report the X-Request-ID to the operator",
  model_error: "retry; the router already tried every deployment it has",
  timeout: "retry, perhaps with a smaller max_tokens",
};

const client = (apiKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0 });

function report(kase, err) {
  const code = typeof err.error === "string" ? err.error : "unknown";
  let line = `${kase}: ${err.status} ${code}`;
  const retryAfter = err.headers?.get("retry-after");
  if (retryAfter) line += `, retry after ${retryAfter} s`;
  console.log(line);
  console.log(`  action: ${ACTIONS[code] ?? "see the message"}`);
}

const ask = (apiKey, content) =>
  client(apiKey).chat.completions.create({ model, messages: [{ role: "user", content }] });

// 1. A wrong key: AuthenticationError (401).
try {
  await ask("vr-not-a-real-key", "hello");
} catch (err) {
  if (!(err instanceof OpenAI.AuthenticationError)) throw err;
  report("unauthorized", err);
}

// 2. Over the rate limit: RateLimitError (429) with Retry-After.
const limitedKey = process.env.VIBEROUTER_LIMITED_API_KEY;
if (limitedKey) {
  try {
    for (let i = 0; i < 2; i++) await ask(limitedKey, "hello");
  } catch (err) {
    if (!(err instanceof OpenAI.RateLimitError)) throw err;
    report("rate limited", err);
  }
} else {
  console.log("rate limited: skipped (set VIBEROUTER_LIMITED_API_KEY to a key with rpm=1)");
}

// 3. The upstream fails before answering: InternalServerError (502 model_error).
try {
  await ask(process.env.VIBEROUTER_API_KEY, "hello [[echo:status=500]]");
} catch (err) {
  if (!(err instanceof OpenAI.APIError)) throw err;
  report("upstream failure", err);
}

// 4. The upstream fails mid-stream: the status was 200, so the error arrives as an
// event; the SDK throws an APIError with the code in `error`. Keep what arrived.
let received = "";
const stream = await client(process.env.VIBEROUTER_API_KEY).chat.completions.create({
  model,
  messages: [{ role: "user", content: "Count one two three four five [[echo:error-midstream]]" }],
  stream: true,
});
try {
  for await (const chunk of stream) {
    for (const choice of chunk.choices) received += choice.delta.content ?? "";
  }
} catch (err) {
  if (!(err instanceof OpenAI.APIError)) throw err;
  const code = typeof err.error === "string" ? err.error : "unknown";
  console.log(`mid-stream: ${code} after '${received.trim()}'`);
  console.log(`  action: ${ACTIONS[code] ?? "see the message"}`);
}
