"""A local fake of the ChatGPT sign-in server, written for the Codex login tests.

It implements what ``kt login codex`` talks to, with the checks a real authorization server
makes: the authorize page redirects to the loopback callback with a code bound to the PKCE
challenge, the state and the redirect URI; the token endpoint checks the client, the code, the
redirect URI and the verifier (S256) for ``authorization_code``, and the refresh token for
``refresh_token``; the device endpoints hand out a user code and answer 403 until the test
approves it. Tokens are JWTs (unsigned) whose claims carry the expiry and the account id.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
ACCOUNT = "acct_0123456789"


def jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


class FakeAuthServer:
    """Use as a context manager; ``url`` is the issuer."""

    def __init__(self, *, lifetime: float = 3600) -> None:
        self.lifetime = lifetime  # seconds each access token lives
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []  # access tokens, in order
        self.grants: list[str] = []
        self.device_approved = threading.Event()
        self.approve_after_polls: int | None = None  # the user types the code after N polls
        self.device_polls = 0
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict | None = None, headers=None):
                body = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path != "/oauth/authorize":
                    return self._send(404, {"error": "not_found"})
                if (
                    query.get("client_id") != CLIENT_ID
                    or query.get("code_challenge_method") != "S256"
                ):
                    return self._send(400, {"error": "invalid_request"})
                code = server._code(query["code_challenge"], query["redirect_uri"])
                target = (
                    query["redirect_uri"]
                    + "?"
                    + urllib.parse.urlencode({"code": code, "state": query["state"]})
                )
                self._send(302, None, {"location": target})

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode()
                kind = self.headers.get("content-type", "")
                body = (
                    dict(urllib.parse.parse_qsl(raw))
                    if "form-urlencoded" in kind
                    else json.loads(raw or "{}")
                )
                path = urllib.parse.urlsplit(self.path).path
                if path == "/oauth/token":
                    status, payload = server._token(body)
                elif path == "/api/accounts/deviceauth/usercode":
                    status, payload = (
                        200,
                        {
                            "device_auth_id": "deviceauth_1",
                            "user_code": "ABCD-1234",
                            "interval": "0.02",
                        },
                    )
                elif path == "/api/accounts/deviceauth/token":
                    status, payload = server._device(body)
                else:
                    status, payload = 404, {"error": "not_found"}
                self._send(status, payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _code(self, challenge: str, redirect_uri: str) -> str:
        with self._lock:
            code = f"code_{next(self._serial)}"
            self.codes[code] = (challenge, redirect_uri)
        return code

    def tokens(self) -> dict:
        with self._lock:
            n = next(self._serial)
            access = jwt({"exp": int(time.time() + self.lifetime), "n": n})
            refresh = f"rt_{n}"
            self.refresh_tokens.add(refresh)
            self.issued.append(access)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "id_token": jwt({"https://api.openai.com/auth": {"chatgpt_account_id": ACCOUNT}}),
            "token_type": "Bearer",
        }

    def _token(self, body: dict) -> tuple[int, dict]:
        if body.get("client_id") != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        grant = body.get("grant_type")
        self.grants.append(grant)
        if grant == "authorization_code":
            known = self.codes.pop(body.get("code", ""), None)
            if known is None:
                return 400, {"error": "invalid_grant", "error_description": "unknown code"}
            challenge, redirect_uri = known
            digest = hashlib.sha256(body.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE failed"}
            if body.get("redirect_uri") != redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
            return 200, self.tokens()
        if grant == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return 401, {"error": {"message": "refresh token already used", "code": "invalid"}}
            self.refresh_tokens.discard(body["refresh_token"])
            reply = self.tokens()
            del reply["id_token"]  # a refresh may leave it out: the old one is kept
            return 200, reply
        return 400, {"error": "unsupported_grant_type"}

    def _device(self, body: dict) -> tuple[int, dict]:
        self.device_polls += 1
        if self.approve_after_polls is not None and self.device_polls > self.approve_after_polls:
            self.device_approved.set()
        if body.get("device_auth_id") != "deviceauth_1" or body.get("user_code") != "ABCD-1234":
            return 400, {"error": "bad device code"}
        if not self.device_approved.is_set():
            return 403, {"error": {"message": "pending", "code": "deviceauth_pending"}}
        verifier = "device-verifier-" + "x" * 40
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        code = self._code(challenge, f"{self.url}/deviceauth/callback")
        return 200, {
            "authorization_code": code,
            "code_challenge": challenge,
            "code_verifier": verifier,
        }

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeAuthServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
