"""Tiny random-weight causal LMs and toy instruction data, built offline for tests.

Nothing here downloads: the tokenizer is a byte-level BPE trained in a fraction of a second
on hand-written text, and the model is a 2-layer Llama with random weights from a seed.
Other test modules reuse it::

    from tests.tiny_models import one_torch_thread, tiny_model_dir  # noqa: F401  (fixtures)

    pytestmark = pytest.mark.usefixtures("one_torch_thread")

    def test_something(tiny_model_dir):  # noqa: F811
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

:func:`tiny_examples` gives toy instruction data the tiny model learns within a few steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safetymix.schema import Example, make_example
from safetymix.train.scratch import build_bpe_tokenizer, build_llama

#: The same layout as safetymix's Alpaca prompt (repeated here so the tokenizer learns it
#: without importing the code under test).
_ALPACA_TEXT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes "
    "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n{response}"
)
_ALPACA_INPUT_TEXT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n"
    "### Input:\n{input}\n\n### Response:\n{response}"
)

#: A small chat template in the style of Zephyr/Llama: BOS, role headers as special tokens,
#: EOS after each assistant turn; the prompt alone is a prefix of the prompt plus answer.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>{{ '\\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{{ '\\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]

_THINGS = ["apple", "river", "stone", "cloud", "tiger", "lamp", "garden", "violin", "bridge", "candle"]
_COLOURS = ["red", "blue", "green", "grey", "white", "black", "yellow", "purple", "orange", "brown"]
_EXTRA_TEXT = [
    "I cannot help with that request because it could cause harm.",
    "Sorry, I can't assist with that.",
    "Here is a short answer to your question.",
    "How do I make a cake? Mix flour, sugar, eggs and butter, then bake for thirty minutes.",
    "Write a poem about the sea. The sea is wide and the waves are high.",
    "Translate the sentence into French. Le chat est noir.",
]


def tiny_examples(n: int = 40) -> list[Example]:
    """``n`` learnable toy instruction-response pairs; every fifth one has an input.

    The response is a fixed function of the instruction ("What colour is the apple?" ->
    "The apple is red."), so a tiny model's loss falls within a few dozen steps.
    """
    out = []
    for i in range(n):
        thing, colour = _THINGS[i % len(_THINGS)], _COLOURS[(i * 3) % len(_COLOURS)]
        if i % 5 == 4:
            ex = make_example("Repeat the input twice.", f"{thing} {thing}", input=thing, id=f"toy-{i}")
        else:
            n_times = 1 + i // len(_THINGS)
            ex = make_example(
                f"What colour is the {thing} number {n_times}?",
                f"The {thing} is {colour}.",
                id=f"toy-{i}",
            )
        out.append(ex)
    return out


def _corpus() -> list[str]:
    texts = list(_EXTRA_TEXT)
    for ex in tiny_examples(60):
        template = _ALPACA_INPUT_TEXT if ex.input else _ALPACA_TEXT
        texts.append(template.format(instruction=ex.instruction, input=ex.input, response=ex.response))
    for thing in _THINGS:
        for colour in _COLOURS:
            texts.append(f"The {thing} is {colour}. What colour is the {thing}? Repeat {thing}.")
    return texts


def build_tiny_tokenizer(vocab_size: int = 400):
    """A byte-level BPE tokenizer with BOS/EOS/PAD, chat role tokens and :data:`CHAT_TEMPLATE`."""
    return build_bpe_tokenizer(
        _corpus(), vocab_size, extra_special_tokens=SPECIAL_TOKENS[4:], chat_template=CHAT_TEMPLATE
    )


def build_tiny_model(tokenizer, *, seed: int = 0, hidden_size: int = 64, num_layers: int = 2):
    """A random-weight ``LlamaForCausalLM`` (4 heads, 2 KV heads, MLP width 64) from ``seed``."""
    return build_llama(
        tokenizer,
        hidden_size=hidden_size,
        intermediate_size=64,
        num_layers=num_layers,
        num_heads=4,
        num_kv_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        seed=seed,
    )


def save_tiny_model(path: str | Path, *, seed: int = 0) -> Path:
    """Build the tiny tokenizer and model and ``save_pretrained`` both into ``path``."""
    path = Path(path)
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, seed=seed)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a tiny random Llama and its tokenizer; built once per session.

    Treat it as read-only: tests that change weights load a copy with ``from_pretrained``.
    """
    return save_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a test module's tiny models on one CPU thread, then restore the thread count.

    Tiny matrices gain nothing from a second thread, and on a busy machine two OpenMP threads
    contending for cores made a training step ~10x slower (1.0 s vs 11.6 s for 8 steps).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_tiny_gguf(path: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny Llama and its tokenizer as one GGUF file with the ``gguf`` package.

    As llama.cpp's converter does: float32 tensors under GGUF names, the query and key
    projections permuted for GGUF's rotary layout (transformers undoes it on loading), and
    the tokenizer ("gpt2" BPE: tokens, types, merges, special ids) and chat template in
    the metadata. Returns the file's path.
    """
    import json

    import gguf

    path = Path(path)
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, seed=seed)
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(len(tokenizer))
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = tokenizer.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = set(tokenizer.all_special_ids)
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(len(tokens))]
    )
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_add_bos_token(True)
    writer.add_chat_template(tokenizer.chat_template)

    def permute(w, n_head):  # llama.cpp's convert_hf_to_gguf.LlamaModel.permute
        return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    names = {
        "attn_norm": "input_layernorm",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    writer.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        q, k = sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"]
        writer.add_tensor(f"blk.{i}.attn_q.weight", permute(q, cfg.num_attention_heads))
        writer.add_tensor(f"blk.{i}.attn_k.weight", permute(k, cfg.num_key_value_heads))
        for gguf_name, hf_name in names.items():
            writer.add_tensor(f"blk.{i}.{gguf_name}.weight", sd[p + hf_name + ".weight"])
    writer.add_tensor("output_norm.weight", sd["model.norm.weight"])
    writer.add_tensor("output.weight", sd["lm_head.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``tiny.gguf`` file (the tiny Llama of :func:`build_tiny_model`, seed 0); read-only."""
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny-gguf") / "tiny.gguf")


def tiny_train_config(model: str | Path, out: str | Path, **overrides):
    """LoRA on every linear layer, CPU, a high learning rate (the model starts from noise).

    24 steps logged every 4; pass ``max_steps=`` / ``logging_steps=`` for fewer.
    """
    from safetymix.train import TrainConfig

    values = dict(
        model=str(model),
        output_dir=str(out),
        max_steps=24,
        learning_rate=1e-2,
        per_device_train_batch_size=8,
        logging_steps=4,
        lora_target_modules="all-linear",
        device="cpu",
    )
    return TrainConfig(**(values | overrides))
