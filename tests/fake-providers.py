#!/usr/bin/env python3
"""A loopback stand-in for the list-models endpoint of OpenAI or Anthropic.

It serves `GET /v1/models` on 127.0.0.1 and checks the credential headers
the way each API documents them:

- openai: `Authorization: Bearer <key>`.
- anthropic: `x-api-key: <key>` and an `anthropic-version` header.

With the right key it returns 200 and a small model list in the provider's
format. Otherwise it returns the provider's error JSON shape: 401 for a
missing or wrong key, 400 for a missing `anthropic-version`. OpenAI's real
message for a wrong key quotes a masked form of it, and so does this one.

Usage: fake-providers.py --provider openai|anthropic --key KEY [--port N]

It prints the port on stdout once it accepts connections, then serves until
it is stopped. It logs one line per request on stderr, never a header value.
Only the Python standard library is used.
"""

import argparse
import hmac
import json
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPENAI_MODELS = {
    "object": "list",
    "data": [
        {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
    ],
}

ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-20250514",
            "display_name": "Claude Sonnet 4",
            "created_at": "2025-05-22T00:00:00Z",
        },
        {
            "type": "model",
            "id": "claude-3-5-haiku-20241022",
            "display_name": "Claude Haiku 3.5",
            "created_at": "2024-10-22T00:00:00Z",
        },
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-20250514",
    "last_id": "claude-3-5-haiku-20241022",
}


def masked(key):
    """Return the key the way OpenAI's error message shows it: the first
    three and last four characters with asterisks between."""
    if len(key) <= 7:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def openai_error(message, code):
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def anthropic_error(kind, message):
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_" + uuid.uuid4().hex}


def openai_models(headers, key):
    """Return (status, body) for GET /v1/models as OpenAI responds to it."""
    authorization = headers.get("Authorization")
    if authorization is None:
        return 401, openai_error(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            None,
        )
    given = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
    if not hmac.compare_digest(given.encode(), key.encode()):
        return 401, openai_error(
            f"Incorrect API key provided: {masked(given)}. "
            "You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
        )
    return 200, OPENAI_MODELS


def anthropic_models(headers, key):
    """Return (status, body) for GET /v1/models as Anthropic responds to it."""
    given = headers.get("x-api-key")
    if given is None:
        return 401, anthropic_error("authentication_error", "x-api-key header is required")
    if not hmac.compare_digest(given.encode(), key.encode()):
        return 401, anthropic_error("authentication_error", "invalid x-api-key")
    if headers.get("anthropic-version") is None:
        return 400, anthropic_error("invalid_request_error", "anthropic-version: header is required")
    return 200, ANTHROPIC_MODELS


def not_found(provider, method, path):
    if provider == "openai":
        return 404, openai_error(f"Invalid URL ({method} {path})", None)
    return 404, anthropic_error("not_found_error", "Not found")


def make_handler(provider, key):
    answer = openai_models if provider == "openai" else anthropic_models

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/v1/models":
                status, body = answer(self.headers, key)
            else:
                status, body = not_found(provider, "GET", path)
            self.send_json(status, body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.send_json(*not_found(provider, "POST", self.path.split("?", 1)[0]))

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if provider == "anthropic":
                self.send_header("request-id", "req_" + uuid.uuid4().hex)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            # The default log line holds only the request line and status,
            # never a header, so no key reaches it.
            sys.stderr.write(f"fake-providers ({provider}): {format % args}\n")

    return Handler


def main():
    parser = argparse.ArgumentParser(description="Loopback fake of the OpenAI or Anthropic list-models endpoint.")
    parser.add_argument("--provider", required=True, choices=["openai", "anthropic"], help="which API to imitate")
    parser.add_argument("--key", required=True, help="the only API key the fake accepts")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.provider, args.key))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
