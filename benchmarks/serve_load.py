"""A load test of `lwft serve` on localhost: requests/s, p50/p95 latency, and that no request was lost.

    python benchmarks/serve_load.py sst2=runs/minilm_lora other=runs/minilm_r8 --data-dir ../shared/data/sst2

Starts `lwft serve` with the model folders given (DIR or NAME=DIR) on 127.0.0.1 and a free port,
waits for `/health`, sends `--requests` single-text requests (dev sentences, the models in turn)
with `--concurrency` in flight, stops at `--time-limit` seconds at the latest, stops the server,
prints the figures and writes JSON. `--workers 1 2 4` does it once per process count, each with a
fresh server, and prints a table of requests/s and latency against workers.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="model folders, DIR or NAME=DIR")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default: $LWFT_DATA_DIR)")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--texts-per-request", type=int, default=1)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1], help="lwft serve --workers; several values: one server and one load each")
    p.add_argument("--output", default="benchmarks/results/serve_load.json")
    return p.parse_args(argv)

def main(argv=None):
    a = parse_args(argv)
    if not a.data_dir: raise SystemExit("serve_load: pass --data-dir or set LWFT_DATA_DIR to a GLUE SST-2 folder")
    from lightweight_ft.data import read_glue_tsv
    from lightweight_ft.serve import parse_model_specs
    names = list(parse_model_specs(a.models))
    texts = read_glue_tsv(Path(a.data_dir)/"dev.tsv")[0]
    k = a.texts_per_request
    payloads = [({"text": texts[i % len(texts)]} if k == 1 else {"texts": [texts[(i * k + j) % len(texts)] for j in range(k)]})
                | {"model": names[i % len(names)]} for i in range(a.requests)]
    runs = [dict(workers=w, **one_load(a, names, payloads, w)) for w in a.workers]
    if len(runs) > 1:
        print("| workers | requests/s | p50 ms | p95 ms | answered | lost |\n|---:|---:|---:|---:|---:|---:|")
        for r in runs:
            s = r["stats"]
            print(f"| {r['workers']} | {s['requests_per_s']:.2f} | {s['latency_p50_ms']:.0f} | {s['latency_p95_ms']:.0f} | {s['answered_ok']} | {s['lost']} |")
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"models": a.models, "texts_per_request": k, "concurrency": a.concurrency, "runs": runs}, indent=2))
    return runs

def one_load(a, names, payloads, workers):
    import httpx
    from lightweight_ft.serve import free_port, load_test
    k, port = a.texts_per_request, free_port()
    server = subprocess.Popen([sys.executable, "-c", "import sys; from lightweight_ft.cli import main; sys.exit(main())", "serve", *a.models,
                               "--port", str(port), "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None: raise SystemExit(f"lwft serve ended:\n{server.stderr.read()[-2000:]}")
            try:
                health = httpx.get(f"{url}/health", timeout=2).json(); break
            except httpx.HTTPError:
                if time.monotonic() > deadline: raise SystemExit("lwft serve did not answer /health within 300 s")
                time.sleep(0.5)
        for n in names: print(f"{n}: {health['models'][n]['backend']}, labels {health['models'][n]['labels']}")
        stats = load_test(url, payloads, n_requests=a.requests, concurrency=a.concurrency, time_limit_s=a.time_limit)
    finally:
        server.terminate(); server.wait(timeout=30)
    print(f"{workers} worker(s): {stats['requested']} requests ({k} text(s) each, {len(names)} models in turn), {a.concurrency} in flight: "
          f"{stats['answered_ok']} answered, {stats['refused']} refused, {stats['failed']} failed, {stats['lost']} lost, "
          f"{stats['not_sent']} not sent within {a.time_limit:g} s")
    print(f"{stats['requests_per_s']:.1f} requests/s; latency p50 {stats['latency_p50_ms']:.1f} ms, p95 {stats['latency_p95_ms']:.1f} ms")
    return {"health": health, "stats": stats}

if __name__ == "__main__": main()
