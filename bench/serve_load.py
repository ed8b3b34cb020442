#!/usr/bin/env python3
"""Load test of a running mome_serve: N concurrent clients post clips to /v1/audio/transcriptions, cycling through the
clips and the given model ids (rate pairs), for a fixed number of requests; loopback only, bounded in requests and
time. Prints one markdown row per client count: errors, throughput (requests/s and media seconds/s, median of the
repeats with min-max) and latency percentiles over all repeats. Standard library only.

    serve_load.py --url http://127.0.0.1:PORT --clips A.mp4 B.mp4 ... [--models ID,ID] [--clients 1,4,8]
                  [--requests 48] [--repeats 3] [--api-key KEY] [--timeout 120]
"""
import argparse
import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid


def multipart(fields, file_name, file_bytes):
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 f'Content-Type: application/octet-stream\r\n\r\n'.encode() + file_bytes + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post(args, clip, model):
    body, content_type = multipart({"model": model, "response_format": "verbose_json"}, clip["name"], clip["bytes"])
    request = urllib.request.Request(args.url + "/v1/audio/transcriptions", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    if args.api_key:
        request.add_header("Authorization", "Bearer " + args.api_key)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            duration = json.loads(response.read())["duration"]
            return time.perf_counter() - started, 200, duration
    except urllib.error.HTTPError as e:
        return time.perf_counter() - started, e.code, 0.0
    except Exception:  # refused, reset, timed out: counted as an error, never hidden
        return time.perf_counter() - started, 0, 0.0


def one_run(args, clips, models, clients):
    results, lock, next_index = [], threading.Lock(), [0]

    def client():
        while True:
            with lock:
                i = next_index[0]
                if i >= args.requests:
                    return
                next_index[0] += 1
            r = post(args, clips[i % len(clips)], models[i % len(models)])
            with lock:
                results.append(r)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, results


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clips", nargs="+", required=True)
    ap.add_argument("--models", default="")
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    if urllib.parse.urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("serve_load: loopback URLs only")
    clips = [{"name": p.split("/")[-1], "bytes": open(p, "rb").read()} for p in args.clips]
    models = args.models.split(",") if args.models else [
        m["id"] for m in json.loads(urllib.request.urlopen(args.url + "/v1/models").read())["data"]]
    print(f"{len(clips)} clips, models {', '.join(models)}, {args.requests} requests x {args.repeats} repeats\n")
    print("| clients | requests | errors | req/s median (min-max) | media s/s | p50 latency s | p99 latency s |")
    print("|---|---|---|---|---|---|---|")
    failed = False
    for clients in [int(c) for c in args.clients.split(",")]:
        rates, media_rates, latencies, errors = [], [], [], 0
        for _ in range(args.repeats):
            seconds, results = one_run(args, clips, models, clients)
            ok = [r for r in results if r[1] == 200]
            errors += len(results) - len(ok)
            rates.append(len(results) / seconds)
            media_rates.append(sum(r[2] for r in ok) / seconds)
            latencies += [r[0] for r in ok]
        failed = failed or errors > 0
        print(f"| {clients} | {args.requests * args.repeats} | {errors} | {statistics.median(rates):.2f} "
              f"({min(rates):.2f}-{max(rates):.2f}) | {statistics.median(media_rates):.1f} | "
              f"{percentile(latencies, 0.5):.3f} | {percentile(latencies, 0.99):.3f} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
