#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora under fuzz/corpus/<target>/ (committed; run again to regenerate).

Each seed is a small valid input of its format, so that libFuzzer starts from inputs that reach deep into the parser;
media seeds are made with the ffmpeg command-line tool. Only the Python standard library is used.
"""
import json
import pathlib
import struct
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent
REPO = ROOT.parent


def put(target, name, data):
    folder = ROOT / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, b"", 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs += raw
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blobs


def wav(samples, rate=16000, channels=1, bits=16, fmt=1):
    if fmt == 3:
        data = struct.pack("<%df" % len(samples), *samples)
    else:
        data = struct.pack("<%dh" % len(samples), *[int(s * 32000) for s in samples])
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def seeds_tensors():
    put("safetensors", "f32.safetensors", safetensors({"w": ("F32", [2, 3], struct.pack("<6f", *range(6)))}))
    put("safetensors", "mixed.safetensors", safetensors({
        "a": ("F16", [4], b"\x00\x3c" * 4), "b": ("BF16", [2, 1], b"\x80\x3f" * 2),
        "c": ("I64", [1], struct.pack("<q", 7)), "d": ("U8", [0], b"")}, {"format": "pt"}))
    put("wav", "pcm16.wav", wav([0.0, 0.5, -0.5, 0.25] * 8))
    put("wav", "float_stereo.wav", wav([0.1, -0.1] * 8, channels=2, bits=32, fmt=3))
    put("wav", "8k.wav", wav([0.2] * 16, rate=8000))


def seeds_configs():
    llama = (REPO / "tests/data/llama/gqa_llama3_rope/config.json").read_bytes()
    whisper = (REPO / "tests/data/whisper/tiny80/config.json").read_bytes()
    avhubert = json.dumps({"encoder_embed_dim": 64, "encoder_layers": 2, "encoder_attention_heads": 4,
                           "encoder_ffn_embed_dim": 128, "modality_fuse": "concat", "resnet_width": 8}).encode()
    put("hf_config", "llama.json", b"\x00" + llama)
    put("hf_config", "whisper.json", b"\x01" + whisper)
    put("hf_config", "avhubert.json", b"\x02" + avhubert)
    for path in [REPO / "configs/tiny_avsr.yaml", REPO / "configs/demo/train.yaml"]:
        put("yaml_config", path.name, path.read_bytes())
    put("yaml_config", "overrides.yaml",
        (REPO / "configs/tiny_avsr.yaml").read_text() + "\n--\ntrain.lr=1e-3\nmodel.rates.audio=[2,4]\n")


def seeds_text():
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 8, "content": "<|end|>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None, "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "\u0120": 4, "he": 5, "ll": 6, "hell": 7},
                  "merges": ["h e", "l l", "he ll"]}}
    put("tokenizer_json", "bpe.json", json.dumps(tokenizer) + "\0hello hell <|end|>")
    put("sentencepiece", "tiny.model", (REPO / "tests/data/spm/tiny.model").read_bytes() + b"\n--text--\nhello world")
    put("lrs_transcript", "lrs3.txt", "Text:  HELLO THERE WORLD\nConf:  4\n\nWORD START END ASDSCORE\n"
        "HELLO 0.10 0.40 3.1\nTHERE 0.40 0.70 2.5\nWORLD 0.80 1.20 4.0\n")
    put("lrs_transcript", "lrs2.txt", "Text:  A SHORT ONE\nConf:  3\n")
    put("manifest", "clips.jsonl", b"\x00" + b'{"key": "a", "audio": "a.wav", "text": "hello"}\n'
        b'{"key": "b", "video": "b.mp4", "audio": "b.mp4", "text": "two words", "landmarks": "b.json"}\n')
    put("manifest", "labels.csv", b"\x01" + b"lrs3,trainval/x/00001.mp4,52,73 12 9,hello, world\n")
    put("manifest", "prepared.json", b"\x02" + json.dumps(
        {"key": "a", "text": "hello", "shard": "shard_00000.safetensors", "audio": "a/audio", "video": "a/video",
         "n_samples": 16000, "n_frames": 25, "words": [["hello", 0.1, 0.5]]}).encode())


def seeds_landmarks():
    frame = [[10.0 + i, 20.0 + (i % 7)] for i in range(68)]
    put("landmarks", "frames.json", json.dumps({"fps": 25, "frames": [frame, None, frame]}))
    put("landmarks", "rows.txt", "# x0 y0 ...\n" + " ".join(f"{x} {y}" for x, y in frame) + "\n-\n")


def seeds_http():
    body = ("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + wav([0.1] * 8) + (
            "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n"
            "--XyZ--\r\n").encode()
    post = ("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fuzz-key\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    put("http_request", "post.http", b"\x01" + post + body)
    put("http_request", "health.http", b"\x00GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    put("http_request", "models.http", b"\x01GET /v1/models HTTP/1.1\r\nAuthorization: Bearer fuzz-key\r\n\r\n")
    put("http_request", "chunked.http", b"\x00POST /v1/audio/transcriptions HTTP/1.1\r\nTransfer-Encoding: chunked"
        b"\r\nContent-Type: multipart/form-data; boundary=B\r\n\r\n5\r\n--B\r\n\r\n0\r\n\r\n")


def seeds_media():
    with tempfile.TemporaryDirectory() as tmp:
        video = ["-f", "lavfi", "-i", "testsrc=s=32x24:r=25:d=0.2"]
        audio = ["-f", "lavfi", "-i", "sine=f=300:r=16000:d=0.2"]
        outputs = {"clip.mp4": video + audio + ["-c:v", "libx264", "-c:a", "aac", "-shortest"],
                   "clip.webm": video + audio + ["-c:v", "libvpx", "-c:a", "libopus", "-shortest"],
                   "audio.ogg": audio + ["-c:a", "libvorbis"],
                   "audio.flac": audio + ["-c:a", "flac"],
                   "video.mkv": video + ["-c:v", "mjpeg"]}
        for name, args in outputs.items():
            out = pathlib.Path(tmp) / name
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(out)], check=True)
            put("media", name, out.read_bytes())
    put("media", "clip.wav", wav([0.3, -0.3] * 200))


if __name__ == "__main__":
    seeds_tensors()
    seeds_configs()
    seeds_text()
    seeds_landmarks()
    seeds_http()
    if "--no-media" not in sys.argv:
        seeds_media()
