"""`SentimentPredictor` against `transformers.pipeline("text-classification")` on the SST-2 dev set.

    python benchmarks/predict_speed.py --model runs/minilm_lora --data-dir ../shared/data/sst2

`--model` is a training run's folder (an adapter: merged in memory first) or a merged model.
Both sides use the same model object, in the same process, on the same sentences. The pipeline
runs twice: as it is usually called (batch 1) and at the predictor's batch size. Prints a
table and writes JSON.
"""
import argparse, json, os
from pathlib import Path

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a run folder (adapter) or a merged model folder")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"), help="GLUE SST-2 folder (default: $LWFT_DATA_DIR)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--output", default="benchmarks/results/predict_speed.json")
    return p.parse_args(argv)

def main(argv=None):
    a = parse_args(argv)
    if not a.data_dir: raise SystemExit("benchmark: pass --data-dir or set LWFT_DATA_DIR to a GLUE SST-2 folder")
    from lightweight_ft.deploy import benchmark_against_pipeline
    from lightweight_ft.model_loader import read_glue_tsv
    texts = read_glue_tsv(Path(a.data_dir)/"dev.tsv")[0]
    rows = [benchmark_against_pipeline(a.model, texts, batch_size=a.batch_size, pipeline_batch_size=pb, repeats=a.repeats)
            for pb in (1, a.batch_size)]
    print(f"{len(texts)} dev sentences, predictor batch {a.batch_size}, precision {rows[0]['precision']}, {rows[0]['device']}")
    print(f"{'pipeline batch':>15}{'predictor/s':>13}{'pipeline/s':>12}{'ratio':>8}")
    for r in rows: print(f"{r['pipeline_batch_size']:>15}{r['predictor_per_s']:>13.1f}{r['pipeline_per_s']:>12.1f}{r['speedup']:>7.2f}x")
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    Path(a.output).write_text(json.dumps({"model": a.model, "rows": rows}, indent=2))
    return rows

if __name__ == "__main__": main()
