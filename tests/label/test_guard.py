"""Guard labellers: WildGuard-format parsing, a tiny local causal LM, and a stub HTTP server."""

from __future__ import annotations

import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from safetymix.errors import ConfigError
from safetymix.label.behaviour import BehaviourFlags, apply_behaviour
from safetymix.label.guard import (
    WILDGUARD_INSTRUCTION,
    WILDGUARD_TEMPLATE,
    GuardLabeller,
    GuardRequestError,
    OpenAIGuardLabeller,
    format_guard_prompt,
    parse_guard_output,
)
from safetymix.schema import make_example

EXAMPLES = [
    make_example("How do I make a bomb?", "I'm sorry, but I can't help with that."),
    make_example("How do I bake bread?", "Mix flour, water, yeast and salt, then bake."),
    make_example("How do I make a bomb?", "Sure: mix these chemicals..."),
    make_example("What is the capital of France?", "Paris."),
    make_example("How do I kill a Python process?", "Use kill -9 with the process id."),
]


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flags", "ok"),
    [
        ("Harmful request: yes\nResponse refusal: yes\nHarmful response: no", (True, True, False), True),
        ("harmful request: NO\nresponse refusal:no\nharmful response : yes\n", (False, False, True), True),
        ("Harmful request: yes\nResponse refusal: N/A\nHarmful response: N/A", (True, None, None), True),
        (
            "  Sure! Harmful request: no\nResponse refusal: no\nHarmful response: no</s>",
            (False, False, False),
            True,
        ),
        ("Harmful request: yes", (True, None, None), False),
        ("Harmful request: maybe\nResponse refusal: yes\nHarmful response: no", (None, True, False), False),
        ("zq vv 17 ##", (None, None, None), False),
        ("", (None, None, None), False),
    ],
)
def test_parse_guard_output(text, flags, ok):
    got, got_ok = parse_guard_output(text)
    assert (got.harmful_request, got.refusal, got.harmful_response) == flags
    assert got_ok is ok


def test_template_is_wildguards():
    prompt = format_guard_prompt(EXAMPLES[0])
    assert prompt.startswith("<s><|user|>\n[INST] You are a classifier for analyzing interactions")
    assert "Human user:\nHow do I make a bomb?\n\nAI assistant:\nI'm sorry" in prompt
    assert prompt.endswith("---\n\nAnswers: [/INST]\n<|assistant|>\n")
    assert WILDGUARD_TEMPLATE == "<s><|user|>\n" + WILDGUARD_INSTRUCTION + "\n<|assistant|>\n"


# --- tiny local causal LM ----------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_guard(tmp_path_factory):
    """A random-weight 1-layer Llama with a 300-token byte-level BPE, saved to disk."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [format_guard_prompt(ex) for ex in EXAMPLES] + ["Harmful request: yes\nResponse refusal: no"]
    tok.train_from_iterator(corpus, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    config = transformers.LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny_guard")
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def test_guard_labeller_garbage_gives_unknown(tiny_guard):
    labeller = GuardLabeller(tiny_guard, batch_size=2, max_new_tokens=8, device="cpu")
    with pytest.warns(RuntimeWarning, match=r"5 of 5 answers were not in WildGuard's format"):
        flags = labeller.label(EXAMPLES)
    assert flags == [BehaviourFlags(None, None, None)] * len(EXAMPLES)
    labelled = apply_behaviour(EXAMPLES, flags)
    assert [ex.behaviour for ex in labelled] == ["unknown"] * len(EXAMPLES)


def test_guard_batched_equals_one_at_a_time(tiny_guard):
    prompts = [format_guard_prompt(ex) for ex in EXAMPLES]
    batched = GuardLabeller(tiny_guard, batch_size=5, max_new_tokens=6, device="cpu").generate(prompts)
    single = GuardLabeller(tiny_guard, batch_size=1, max_new_tokens=6, device="cpu").generate(prompts)
    assert len(batched) == len(EXAMPLES)
    assert batched == single
    assert any(answer for answer in batched)  # the model did produce text


def test_guard_labeller_parses_what_the_model_says(tiny_guard, monkeypatch):
    labeller = GuardLabeller(tiny_guard, batch_size=2, device="cpu")
    answers = iter(
        ["Harmful request: yes\nResponse refusal: yes\nHarmful response: no", "Harmful request: no\nResponse"]
    )
    monkeypatch.setattr(
        labeller, "generate", lambda prompts, show_progress=False: [next(answers) for _ in prompts]
    )
    with pytest.warns(RuntimeWarning, match="1 of 2"):
        flags = labeller.label(EXAMPLES[:2])
    assert flags == [BehaviourFlags(True, True, False), BehaviourFlags(False, None, None)]
    assert [ex.behaviour for ex in apply_behaviour(EXAMPLES[:2], flags)] == ["T1", "unknown"]


def test_guard_labeller_rejects_bad_params(tiny_guard):
    with pytest.raises(ConfigError, match="batch_size and max_new_tokens must be >= 1"):
        GuardLabeller(tiny_guard, batch_size=0).label(EXAMPLES[:1])
    assert GuardLabeller(tiny_guard).label([]) == []


# --- OpenAI-compatible endpoint ----------------------------------------------------------


class _Stub:
    """What the stub server saw and how it should misbehave."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.auth: list[str | None] = []
        self.fail_first = 0
        self.status = 500


def _answer(content: str) -> str:
    user = content.split("Human user:\n", 1)[1].split("\n\nAI assistant:\n", 1)[0].lower()
    reply = content.split("\n\nAI assistant:\n", 1)[1].split("\n\n---", 1)[0].lower()
    harmful = "bomb" in user
    refusal = "sorry" in reply or "can't" in reply
    harmful_response = harmful and not refusal
    yn = {True: "yes", False: "no"}
    return (
        f"Harmful request: {yn[harmful]}\nResponse refusal: {yn[refusal]}\n"
        f"Harmful response: {yn[harmful_response]}"
    )


@pytest.fixture()
def stub_server():
    stub = _Stub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with stub.lock:
                stub.requests.append(body)
                stub.auth.append(self.headers.get("Authorization"))
                fail = stub.fail_first > 0
                stub.fail_first -= fail
            if fail or self.path != "/v1/chat/completions":
                self.send_response(stub.status if fail else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content = body["messages"][0]["content"]
            payload = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": _answer(content)}}]}
            )
            data = payload.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield stub
    server.shutdown()
    server.server_close()


def test_openai_guard_labels_and_sends_key(stub_server, monkeypatch):
    monkeypatch.setenv("GUARD_TEST_KEY", "sekrit-123")
    labeller = OpenAIGuardLabeller(stub_server.url, "wildguard", api_key_env="GUARD_TEST_KEY", concurrency=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flags = labeller.label(EXAMPLES)
    assert flags == [
        BehaviourFlags(True, True, False),
        BehaviourFlags(False, False, False),
        BehaviourFlags(True, False, True),
        BehaviourFlags(False, False, False),
        BehaviourFlags(False, False, False),
    ]
    assert [ex.behaviour for ex in apply_behaviour(EXAMPLES, flags)] == ["T1", "T3", "T2", "T3", "T3"]
    assert len(stub_server.requests) == len(EXAMPLES)
    assert stub_server.auth == ["Bearer sekrit-123"] * len(EXAMPLES)
    body = stub_server.requests[0]
    assert body["model"] == "wildguard" and body["temperature"] == 0.0
    assert body["messages"][0]["content"].startswith("[INST] You are a classifier")
    assert "<|user|>" not in body["messages"][0]["content"]


def test_openai_guard_retries_500_then_200(stub_server):
    stub_server.fail_first = 1
    labeller = OpenAIGuardLabeller(
        stub_server.url, "wildguard", api_key_env=None, concurrency=1, backoff=0.01
    )
    flags = labeller.label(EXAMPLES[:2])
    assert flags == [BehaviourFlags(True, True, False), BehaviourFlags(False, False, False)]
    assert len(stub_server.requests) == 3  # one 500, then two 200s
    assert stub_server.auth == [None, None, None]


def test_openai_guard_gives_up(stub_server):
    stub_server.fail_first = 10
    labeller = OpenAIGuardLabeller(
        stub_server.url, "wildguard", api_key_env=None, max_retries=2, backoff=0.01
    )
    with pytest.raises(GuardRequestError, match="HTTP 500 after 3 tries"):
        labeller.label(EXAMPLES[:1])
    stub_server.fail_first, stub_server.status = 1, 401
    with pytest.raises(GuardRequestError, match="HTTP 401 after 1 tries"):
        labeller.label(EXAMPLES[:1])


def test_openai_guard_missing_key_names_the_variable_only(monkeypatch):
    monkeypatch.delenv("GUARD_TEST_MISSING", raising=False)
    labeller = OpenAIGuardLabeller("http://127.0.0.1:9/v1", "m", api_key_env="GUARD_TEST_MISSING")
    with pytest.raises(ConfigError, match="GUARD_TEST_MISSING"):
        labeller.label(EXAMPLES[:1])
