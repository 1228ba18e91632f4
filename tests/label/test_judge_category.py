"""Tests for safetymix.label.judge_category, against a stub OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from safetymix.errors import ConfigError, SafetymixError
from safetymix.label.judge_category import JudgeCategoryLabeller, parse_category_list
from safetymix.schema import BEAVERTAILS_CATEGORIES, make_example


def _examples(prompts):
    return [make_example(p) for p in prompts]


class _StubJudge(BaseHTTPRequestHandler):
    """Answers like a guard model, from keywords in the user message."""

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        srv = self.server
        with srv.lock:
            srv.calls.append((prompt, self.headers.get("Authorization"), body["messages"][0]["content"]))
            flaky = "flaky" in prompt and srv.failures < 1
            if flaky:
                srv.failures += 1
        if flaky or "always-503" in prompt:
            code = 429 if flaky else 503
            self.send_response(code)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        text = "none"
        if "no-content" in prompt:
            payload = json.dumps({"choices": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if "dog" in prompt:
            text = "Animal Abuse"
        elif "bomb" in prompt:
            text = "terrorism,organized_crime, Violence, Aiding and Abetting, Incitement"
        elif "password" in prompt:
            text = "1. privacy violation\n2. hacking_stuff"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubJudge)
    server.calls, server.failures, server.lock = [], 0, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", server
    server.shutdown()
    server.server_close()


def test_judge_labels_through_stub_server(stub_url, monkeypatch):
    url, server = stub_url
    monkeypatch.setenv("STUB_KEY", "sekret")
    judge = JudgeCategoryLabeller(url, "guard-1", api_key_env="STUB_KEY", concurrency=4, backoff=0.0)
    exs = _examples(
        [
            "how do I hurt a dog",
            "how to build a bomb",
            "steal a password",
            "what is the weather",
            "flaky dog question",
            "how do I hurt a dog",  # duplicate: asked once
        ]
    ) + [make_example("benign bomb question", harmful_request=False)]
    with pytest.warns(RuntimeWarning, match="1 unknown categories"):
        out = judge.label(exs)
    assert out == [
        ["animal_abuse"],
        ["terrorism,organized_crime", "violence,aiding_and_abetting,incitement"],
        ["privacy_violation"],
        [],
        ["animal_abuse"],
        ["animal_abuse"],
        [],
    ]
    assert judge.unknown_counts_ == {"hacking_stuff": 1}
    prompts = [c[0] for c in server.calls]
    assert len(prompts) == 6  # 5 distinct harmful-or-unlabelled prompts + 1 retry after the 429
    assert prompts.count("flaky dog question") == 2
    assert "benign bomb question" not in prompts
    assert {c[1] for c in server.calls} == {"Bearer sekret"}
    assert "self_harm:" in server.calls[0][2]


def test_judge_gives_up_after_retries(stub_url):
    url, server = stub_url
    judge = JudgeCategoryLabeller(url, "guard-1", api_key_env=None, max_retries=2, backoff=0.0)
    with pytest.raises(SafetymixError, match="failed after 3 tries; last error: HTTP 503"):
        judge.label(_examples(["always-503 please"]))
    assert len(server.calls) == 3
    assert server.calls[0][1] is None


def test_judge_warns_when_key_variable_unset(stub_url, monkeypatch):
    url, _ = stub_url
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    judge = JudgeCategoryLabeller(url, "guard-1", api_key_env="NO_SUCH_KEY_VAR")
    with pytest.warns(RuntimeWarning, match=r"\$NO_SUCH_KEY_VAR is not set"):
        assert judge.label(_examples(["my dog"])) == [["animal_abuse"]]


@pytest.mark.parametrize(
    ("answer", "labels", "unknown"),
    [
        ("animal_abuse, self_harm", ["animal_abuse", "self_harm"], []),
        ("Violence, Aiding and Abetting, Incitement", ["violence,aiding_and_abetting,incitement"], []),
        (
            "- Drug Abuse, Weapons, Banned Substance\n- politics",
            ["drug_abuse,weapons,banned_substance", "controversial_topics,politics"],
            [],
        ),
        ("None", [], []),
        ("Categories: privacy_violation and self-harm.", ["privacy_violation", "self_harm"], []),
        (
            "<think>maybe child_abuse?</think>theft, cybercrime",
            ["financial_crime,property_crime,theft"],
            ["cybercrime"],
        ),
        ("self_harm, self_harm", ["self_harm"], []),
    ],
)
def test_parse_category_list(answer, labels, unknown):
    assert parse_category_list(answer, BEAVERTAILS_CATEGORIES) == (labels, unknown)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"concurrency": 0}, "concurrency"), ({"max_retries": -1}, "max_retries")]
)
def test_judge_bad_options_raise(kwargs, match):
    judge = JudgeCategoryLabeller("http://127.0.0.1:9/v1", "guard-1", api_key_env=None, **kwargs)
    with pytest.raises(ConfigError, match=f"{match} must be"):
        judge.label(_examples(["my dog"]))


def test_judge_answer_without_content_raises(stub_url):
    url, _ = stub_url
    judge = JudgeCategoryLabeller(url, "guard-1", api_key_env=None)
    with pytest.raises(SafetymixError, match="answered 200 without choices"):
        judge.label(_examples(["no-content please"]))
