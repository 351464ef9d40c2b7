"""Why graphed bf16 training steps failed on a GPU: one LoRA run of MiniLM with the packed step captured as CUDA
graphs in bf16, which the library refuses (`cuda_graphs` is fp32 only since an H200 run ended in an illegal memory
access, torch 2.11).

    CUDA_LAUNCH_BLOCKING=1 python benchmarks/cuda_graphs_bf16.py --data-dir ../shared/data/sst2

The refusal is lifted for this process only (the plan is asked as for fp32); everything else is the library's path.
With `CUDA_LAUNCH_BLOCKING=1` a failing kernel raises where it runs, so the traceback names it. Prints the speed and
accuracy, or the error; the fp32 graphed run beside it (`--also-fp32`) is the yardstick. Needs a CUDA GPU.
"""
import argparse, os, sys, time, traceback

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="minilm")
    p.add_argument("--data-dir", default=os.environ.get("LWFT_DATA_DIR"))
    p.add_argument("--train-samples", type=int, default=8000)
    p.add_argument("--also-fp32", action="store_true", help="also the fp32 graphed run (the library's default on a GPU)")
    return p.parse_args(argv)

def bf16_graphs_allowed():
    "`speedup_plan` as for fp32 where it asks about `cuda_graphs`: the bf16 refusal lifted, every other check kept."
    import lightweight_ft.speedups as sp
    asked = sp._not_here
    sp._not_here = lambda name, model, t, precision, plan: asked(name, model, t, "fp32" if name == "cuda_graphs" else precision, plan)

def run(loader, train, dev, precision):
    from lightweight_ft.lora_trainer import LoRATrainer
    model, tok = loader.load_model()
    t = LoRATrainer(model, tok)
    t0 = time.perf_counter()
    model = t.train(train, dev, method="lora", lora_r=8, lora_alpha=16, target_modules="query_value", learning_rate=5e-4,
            seed=42, progress=False, precision=precision)
    graphs = t.trainer.step_graphs
    print(f"{precision}: {t.train_report['train_samples_per_s']:.1f} train samples/s ({time.perf_counter() - t0:.1f} s), "
          f"graphed shapes {sorted(k for k in graphs.graphs) if graphs else None}, failure {graphs.failure if graphs else None}, "
          f"dev accuracy {t.evaluate(model, dev)['accuracy']:.4f}", flush=True)

def main(argv=None):
    a = parse_args(argv)
    import torch
    if not torch.cuda.is_available(): sys.exit("cuda_graphs_bf16.py: no CUDA GPU here (torch.cuda.is_available() is False); run it on a GPU machine")
    from lightweight_ft.model_loader import ModelLoader
    loader = ModelLoader(a.model, data_dir=a.data_dir)
    train, dev = loader.load_sst2_dataset(max_train_samples=a.train_samples)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA_LAUNCH_BLOCKING={os.environ.get('CUDA_LAUNCH_BLOCKING', '0')}", flush=True)
    if a.also_fp32: run(loader, train, dev, "fp32")
    bf16_graphs_allowed()
    try: run(loader, train, dev, "bf16")
    except Exception: traceback.print_exc(); sys.exit(1)

if __name__ == "__main__": main()
