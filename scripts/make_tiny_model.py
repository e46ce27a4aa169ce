#!/usr/bin/env python3
"""Write a tiny random-weight Llama for CI: a GGUF file for llama.cpp and a
Hugging Face folder with its tokenizer.json for infmax's client.

The tokenizer is a byte-level BPE trained on a seeded synthetic corpus with an
ASCII-only alphabet (with all 256 bytes a random model emits lone non-UTF-8
bytes and llama.cpp fails requests mid-stream). 4 layers, hidden 256.

Needs numpy, tokenizers, gguf (PyPI). Usage: make_tiny_model.py OUT_DIR
"""
import os
import random
import sys

import numpy as np
from gguf import GGUFWriter
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

VOCAB, HIDDEN, LAYERS, HEADS, FF, CTX = 512, 256, 4, 4, 512, 4096


def corpus(seed=7, lines=2000):
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "qui", "zen", "bar", "dor", "el", "fin", "gu", "ho"]
    for _ in range(lines):
        yield " ".join("".join(rng.choice(syll) for _ in range(rng.randint(1, 3))) for _ in range(20)) + "."


def main(out):
    os.makedirs(os.path.join(out, "hf"), exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    ascii_alphabet = [c for c in pre_tokenizers.ByteLevel.alphabet() if ord(c) < 128]
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<s>", "</s>"], initial_alphabet=ascii_alphabet, show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.save(os.path.join(out, "hf", "tokenizer.json"))
    vocab = tok.get_vocab()
    n = len(vocab)
    tokens = [""] * n
    for t, i in vocab.items():
        tokens[i] = t
    types = [3 if t in ("<s>", "</s>") else 1 for t in tokens]
    import json
    merges = json.loads(tok.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]

    w = GGUFWriter(os.path.join(out, "tiny.gguf"), "llama")
    w.add_name("infmax-tiny-llama")
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab["<s>"])
    w.add_eos_token_id(vocab["</s>"])
    w.add_add_bos_token(False)
    rng = np.random.default_rng(0)

    def t(name, *shape, scale=0.02):
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n, HIDDEN)
    for b in range(LAYERS):
        w.add_tensor(f"blk.{b}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        for p in ("q", "k", "v", "output"):
            t(f"blk.{b}.attn_{p}.weight", HIDDEN, HIDDEN)
        w.add_tensor(f"blk.{b}.ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        t(f"blk.{b}.ffn_gate.weight", FF, HIDDEN)
        t(f"blk.{b}.ffn_up.weight", FF, HIDDEN)
        t(f"blk.{b}.ffn_down.weight", HIDDEN, FF)
    w.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    t("output.weight", n, HIDDEN)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(os.path.join(out, "tiny.gguf"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tiny-model")
