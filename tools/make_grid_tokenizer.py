#!/usr/bin/env python3
"""Writes configs/demo/tokenizer.json: a Llama-3-style byte-level BPE tokenizer (HF tokenizers format) whose
vocabulary holds every GRID word as one token, with and without the leading space ("ĠBIN" and "BIN"), so a GRID
sentence is 6 tokens. `ignore_merges` (as Llama 3) looks whole pre-tokens up in the vocabulary before merging;
any other text falls back to single bytes. Run: python3 tools/make_grid_tokenizer.py configs/demo/tokenizer.json
"""
import json
import sys

GRID = [
    "BIN LAY PLACE SET", "BLUE GREEN RED WHITE", "AT BY IN WITH",
    "A B C D E F G H I J K L M N O P Q R S T U V X Y Z",
    "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE", "AGAIN NOW PLEASE SOON",
]
EXTRA = ["TRANSCRIBE"]  # the demo's instruction word


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map used by ByteLevel."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def main(out):
    byte_chars = bytes_to_unicode()
    vocab = {}
    for b in range(256):
        vocab[byte_chars[b]] = len(vocab)
    words = sorted({w for line in GRID for w in line.split()} | set(EXTRA))
    for w in words:
        for piece in (w, "Ġ" + w):
            if piece not in vocab:
                vocab[piece] = len(vocab)
    bos, eos = len(vocab), len(vocab) + 1
    special = lambda i, s: {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(bos, "<|begin_of_text|>"), special(eos, "<|end_of_text|>")],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos],
                                                                    "tokens": ["<|begin_of_text|>"]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": []},
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "configs/demo/tokenizer.json")
