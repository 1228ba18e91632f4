"""Tests for safetymix.label.chat_http, against a stub OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from safetymix.errors import SafetymixError
from safetymix.label import chat_http
from safetymix.label.chat_http import MAX_RETRY_AFTER, ChatEndpoint, ChatRequestError, message_content


class _Stub:
    """Answers the queued failures first (status, Retry-After), then echoes the user message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: list[tuple[int, str | None]] = []
        self.seen: list[tuple[str, str | None]] = []


@pytest.fixture()
def stub():
    state = _Stub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802 - http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.seen.append((self.path, self.headers.get("Authorization")))
                failure = state.failures.pop(0) if state.failures else None
            if failure is not None:
                status, retry_after = failure
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"nope")
                return
            text = "echo: " + body["messages"][-1]["content"]
            data = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture()
def sleeps(monkeypatch):
    """Record retry delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(chat_http.time, "sleep", delays.append)
    return delays


def _chats(*texts):
    return [[{"role": "user", "content": t}] for t in texts]


def _post(url, chats, progress=None, **kwargs):
    params = {"api_key_env": None, "timeout": 5.0, "concurrency": 2, "max_retries": 2, "backoff": 0.5}
    return ChatEndpoint(url, "m", **(params | kwargs)).answers(chats, progress=progress)


def test_answers_come_back_in_order_with_headers(stub, sleeps, caplog, monkeypatch):
    texts = [f"q{i}" for i in range(12)]
    monkeypatch.setenv("CHAT_TEST_KEY", "k")
    with caplog.at_level(logging.INFO, logger="safetymix.label.chat_http"):
        out = _post(stub.url, _chats(*texts), api_key_env="CHAT_TEST_KEY", concurrency=4, progress="t")
    assert [message_content(r) for r in out] == [f"echo: {t}" for t in texts]
    assert {s for s in stub.seen} == {("/v1/chat/completions", "Bearer k")}
    assert "t: 12/12 requests" in caplog.text
    assert sleeps == []
    assert _post("http://127.0.0.1:9/v1", []) == []  # nothing to send: no connection


def test_retries_with_backoff_and_capped_retry_after(stub, sleeps):
    stub.failures = [(503, None), (429, "0.1"), (429, "7200")]
    out = _post(stub.url, _chats("x"), max_retries=3, concurrency=1)
    assert message_content(out[0]) == "echo: x"
    # exponential backoff (0.5, 1, 2); Retry-After only ever lengthens it, up to the cap
    assert sleeps == [0.5, 1.0, MAX_RETRY_AFTER]
    assert len(stub.seen) == 4


def test_gives_up_after_retries(stub, sleeps):
    stub.failures = [(500, None)] * 5
    with pytest.raises(ChatRequestError, match="failed after 3 tries; last error: HTTP 500: 'nope'") as info:
        _post(stub.url, _chats("x"))
    err = info.value
    assert (err.tries, err.status, err.retryable) == (3, 500, True)
    assert isinstance(err, SafetymixError) and isinstance(err, RuntimeError)
    assert len(sleeps) == 2


def test_other_status_fails_at_once(stub, sleeps):
    stub.failures = [(401, None)]
    with pytest.raises(ChatRequestError, match="refused the request: HTTP 401") as info:
        _post(stub.url, _chats("x"))
    assert (info.value.tries, info.value.retryable) == (1, False)
    assert sleeps == [] and len(stub.seen) == 1


def test_transport_error_is_retried_then_chained(sleeps):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ChatRequestError, match="failed after 2 tries; last error: ConnectError") as info:
        _post(f"http://127.0.0.1:{port}/v1", _chats("x"), max_retries=1)
    assert info.value.status is None
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert sleeps == [0.5]


def test_message_content_shapes():
    def resp(payload):
        return httpx.Response(200, content=payload.encode())

    assert message_content(resp('{"choices": [{"message": {"content": "a"}}]}')) == "a"
    assert message_content(resp('{"choices": [{"message": {"content": null}}]}')) == ""
    assert message_content(resp('{"choices": []}')) is None
    assert message_content(resp("not json")) is None


def test_credentials_are_redacted_from_urls_and_chats():
    from safetymix.label.chat_http import ChatRequestError, redact

    assert redact("http://user:s3cret@host:8000/v1") == "http://***@host:8000/v1"
    echo = 'invalid key {"api_key": "sk-abcdefgh12345678"} Authorization: Bearer sk-abcdefgh12345678'
    assert "sk-abcdefgh12345678" not in redact(echo)
    assert redact("your key is KEY-VALUE-123", ["KEY-VALUE-123"]) == "your key is ***"
    err = ChatRequestError(
        "http://u:pw@h/v1/chat/completions",
        1,
        status=401,
        body="bad key KEY-VALUE-123",
        secrets=["KEY-VALUE-123"],
    )
    assert "pw" not in str(err) and "KEY-VALUE-123" not in str(err) and "***" in str(err)


def test_check_names_every_bad_option():
    ChatEndpoint("http://h/v1", "m").check()
    with pytest.raises(SafetymixError, match="ChatEndpoint needs base_url= and model="):
        ChatEndpoint("", "m").check()
    bad = ChatEndpoint("http://h/v1", "m", concurrency=0, max_retries=-1, timeout=0, backoff=-1.0)
    with pytest.raises(SafetymixError) as info:
        bad.answers([])  # checked before anything is sent
    assert str(info.value) == (
        "concurrency must be >= 1; got 0; max_retries must be >= 0; got -1; "
        "backoff must be >= 0; got -1.0; timeout must be > 0; got 0"
    )


def test_a_password_in_base_url_reaches_no_record(stub, monkeypatch):
    """describe(), repr and the labeller description mask URL userinfo; an unset key variable
    sends no Authorization header at all."""
    from safetymix.judge.openai_compat import OpenAIJudge
    from safetymix.label.guard import OpenAIGuardLabeller
    from safetymix.label.stream import describe_labeller

    url = "http://user:s3cretpw@h/v1"
    judge = OpenAIJudge(url, "m")
    assert "s3cretpw" not in json.dumps(judge.describe()) and "s3cretpw" not in repr(judge)
    assert judge.describe()["params"]["base_url"] == "http://***@h/v1"
    assert "s3cretpw" not in json.dumps(describe_labeller(OpenAIGuardLabeller(url, "m")))
    assert chat_http.redact_json({"a": [url, 3, {"b": url}], "c": None}) == {
        "a": ["http://***@h/v1", 3, {"b": "http://***@h/v1"}],
        "c": None,
    }
    monkeypatch.delenv("CHAT_TEST_UNSET", raising=False)
    with pytest.warns(RuntimeWarning, match="CHAT_TEST_UNSET is not set"):
        ChatEndpoint(stub.url, "m", api_key_env="CHAT_TEST_UNSET").answers(_chats("x"), missing_key="warn")
    assert stub.seen == [("/v1/chat/completions", None)]
