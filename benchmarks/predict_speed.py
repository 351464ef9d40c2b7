"""`SentimentPredictor` against `transformers.pipeline("text-classification")` on the SST-2 dev set, in each precision.

    python benchmarks/predict_speed.py --model runs/minilm_lora --data-dir ../shared/data/sst2

`--model` is a training run's folder (an adapter: merged in memory first) or a merged model.
Both sides use the same model object, in the same process, on the same sentences. The pipeline
runs twice: as it is usually called (batch 1) and at the predictor's batch size. Predictions are
fp32 (exact) by default; each lower precision asked for (`--precisions fp32 bf16`) gets its own
rows and its agreement with fp32 on the whole dev set: labels that flip and the largest
probability difference. Prints a table and writes JSON.

Then the serving rows (skipped with `--no-serving`): the model exported to ONNX (fp32, and int8
by ONNX Runtime dynamic quantisation) beside the PyTorch predictor and `pipeline`, each in its
own process so that its peak memory is its own: predictions/s over the dev set at the batch
size, p50/p95 latency of single texts, and the process's peak resident memory. ONNX Runtime
uses as many threads as torch.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a run folder (adapter) or a merged model folder")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default: $LWFT_DATA_DIR)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16", "fp16"],
                   help="default: fp32, and bf16 where the CPU has bf16 instructions (fast or not) or on a CUDA GPU")
    p.add_argument("--output", default="benchmarks/results/predict_speed.json")
    p.add_argument("--no-serving", action="store_true", help="skip the ONNX fp32/int8 serving rows")
    p.add_argument("--serving-only", action="store_true", help="only the serving rows")
    p.add_argument("--onnx", default=None, help="an existing lwft export folder (with int8/); default: export into a temporary folder")
    p.add_argument("--single-texts", type=int, default=200, help="single texts timed one by one for the latency percentiles")
    p.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS) # one serving row, in its own process
    return p.parse_args(argv)

def measure(kind, path, texts, batch_size, repeats, single_texts) -> dict:
    "One serving row: predictions/s at `batch_size`, single-text latency percentiles, peak memory of this process."
    import numpy as np
    from lightweight_ft.inference import SentimentPredictor
    pred = SentimentPredictor(path, batch_size=batch_size)
    if kind == "pipeline":
        from transformers import pipeline
        pipe = pipeline("text-classification", model=pred.model, tokenizer=pred.tokenizer, device=pred.model.device)
        batch = lambda xs: pipe(xs, batch_size=batch_size, truncation=True, max_length=pred.max_length)
        one = lambda x: pipe(x, truncation=True, max_length=pred.max_length)
    else: batch, one = pred.predict, pred.predict
    batch(texts[:64]); [one(t) for t in texts[:10]] # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); batch(texts); times.append(time.perf_counter() - t0)
    latencies = []
    for t in texts[:single_texts]:
        t0 = time.perf_counter(); one(t); latencies.append(time.perf_counter() - t0)
    lat = np.array(latencies) * 1000
    return {"kind": kind, "path": str(path), "batch_size": batch_size, "per_s": len(texts) / min(times),
            "single_per_s": len(lat) / (lat.sum() / 1000), "latency_p50_ms": float(np.percentile(lat, 50)),
            "latency_p95_ms": float(np.percentile(lat, 95)), "peak_rss_bytes": peak_rss_bytes()}

def peak_rss_bytes() -> int:
    "This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec from the parent)."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def serving_rows(a, data_dir) -> tuple[list[dict], dict|None]:
    "The serving rows, each measured in a fresh process; the export's parity report when this run exported."
    export = None
    onnx = Path(a.onnx) if a.onnx else None
    if onnx is None:
        from lightweight_ft.export import ExportSettings, export_model
        onnx = Path(tempfile.mkdtemp(prefix="lwft_bench_onnx_"))/"onnx"
        export = export_model(a.model, onnx, ExportSettings(int8=True), data=Path(data_dir)/"dev.tsv")
    kinds = [("pipeline", a.model), ("torch fp32", a.model), ("onnx fp32", onnx), ("onnx int8", onnx/"int8")]
    rows = []
    for kind, path in kinds:
        cmd = [sys.executable, __file__, "--model", str(a.model), "--data-dir", str(data_dir), "--batch-size", str(a.batch_size),
               "--repeats", str(a.repeats), "--single-texts", str(a.single_texts), "--measure", kind, str(path)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: raise SystemExit(f"benchmark row {kind} failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows, export

def print_serving(rows, export):
    pipe = rows[0]
    print(f"\nserving rows, batch {pipe['batch_size']} (ratio: predictions/s over pipeline's at the same batch; single: one text per call)")
    print(f"{'':>11}{'per s':>9}{'ratio':>8}{'single/s':>10}{'ratio':>8}{'p50 ms':>8}{'p95 ms':>8}{'peak MiB':>10}")
    for r in rows:
        print(f"{r['kind']:>11}{r['per_s']:>9.1f}{r['per_s'] / pipe['per_s']:>7.2f}x{r['single_per_s']:>10.1f}{r['single_per_s'] / pipe['single_per_s']:>7.2f}x"
              f"{r['latency_p50_ms']:>8.2f}{r['latency_p95_ms']:>8.2f}{r['peak_rss_bytes'] / 2**20:>10.0f}")
    if export:
        p, q = export["parity"], export["int8"]
        print(f"onnx fp32 against torch: {p['labels_differ']} of {p['n']} labels differ, largest probability difference {p['max_probability_difference']:.2e}")
        m = q.get("mcnemar_int8_vs_fp32", {})
        print(f"onnx int8 against torch: {q['parity_with_torch']['labels_differ']} of {q['parity_with_torch']['n']} labels differ; "
              f"accuracy {q['accuracy']['onnx_int8']['accuracy']:.4f} vs {q['accuracy']['onnx_fp32']['accuracy']:.4f}; McNemar p = {m.get('p_value', float('nan')):.3g}")

def agreement(model, texts, precision, reference) -> dict:
    "Labels that differ from `reference` (fp32 probabilities) and the largest probability difference."
    import numpy as np
    from lightweight_ft.inference import SentimentPredictor
    probs = np.array([r["probabilities"] for r in SentimentPredictor(model, precision=precision).predict(texts)])
    return {"labels_flipped": int((probs.argmax(1) != reference.argmax(1)).sum()), "n": len(texts),
            "max_probability_difference": float(np.abs(probs - reference).max())}

def main(argv=None):
    a = parse_args(argv)
    if not a.data_dir: raise SystemExit("benchmark: pass --data-dir or set LWFT_DATA_DIR to a GLUE SST-2 folder")
    import numpy as np, torch
    from lightweight_ft.inference import SentimentPredictor, benchmark_against_pipeline
    from lightweight_ft.precision import cpu_has_bf16_instructions
    from lightweight_ft.environment import environment_report
    from lightweight_ft.data import read_glue_tsv
    texts = read_glue_tsv(Path(a.data_dir)/"dev.tsv")[0]
    if a.measure:
        print(json.dumps(measure(a.measure[0], a.measure[1], texts, a.batch_size, a.repeats, a.single_texts))); return
    bf16_instructions = torch.cuda.is_available() or cpu_has_bf16_instructions() # bf16 timed too wherever it has instructions
    precisions = a.precisions or (["fp32", "bf16"] if bf16_instructions else ["fp32"])
    env = environment_report("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{env['cpu']} ({env['cpu_vendor'] or 'vendor unknown'}); bf16 faster than fp32 by the precision rule: {env['cpu_bf16']} (flags {', '.join(env['cpu_flags'])}); {env['torch_threads']} threads; GPU: {env['gpu']}")
    reference = None if a.serving_only else np.array([r["probabilities"] for r in SentimentPredictor(a.model, precision="fp32").predict(texts)])
    rows, agreements = [], {}
    for precision in ([] if a.serving_only else precisions):
        rows += [benchmark_against_pipeline(a.model, texts, batch_size=a.batch_size, pipeline_batch_size=pb, precision=precision,
                                            repeats=a.repeats) for pb in (1, a.batch_size)]
        if precision != "fp32": agreements[precision] = agreement(a.model, texts, precision, reference)
    if rows: print(f"{len(texts)} dev sentences, predictor batch {a.batch_size}, {rows[0]['device']}")
    if rows: print(f"{'precision':>10}{'pipeline batch':>15}{'predictor/s':>13}{'pipeline/s':>12}{'ratio':>8}")
    for r in rows: print(f"{r['precision']:>10}{r['pipeline_batch_size']:>15}{r['predictor_per_s']:>13.1f}{r['pipeline_per_s']:>12.1f}{r['speedup']:>7.2f}x")
    for p, g in agreements.items():
        print(f"{p} against fp32: {g['labels_flipped']} of {g['n']} labels differ; largest probability difference {g['max_probability_difference']:.2e}")
    serving, export = ([], None) if a.no_serving else serving_rows(a, a.data_dir)
    if serving: print_serving(serving, export)
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"model": a.model, "environment": env, "rows": rows, "agreement_with_fp32": agreements,
                                          "serving": serving, "export": export and {k: export[k] for k in ("parity", "int8")}}, indent=2, default=str))
    return rows, agreements

if __name__ == "__main__": main()
