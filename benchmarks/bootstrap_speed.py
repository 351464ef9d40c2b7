"""Bootstrap intervals computed on all resamples at once (`bootstrap_intervals`) against sklearn called once per resample.
python benchmarks/bootstrap_speed.py [--n 872] [--resamples 1000]"""
import argparse, time
from lightweight_ft.metrics import bootstrap_intervals, classification_metrics
from lightweight_ft.testing import synthetic_predictions

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=872, help="examples (872: the SST-2 dev set)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    a = p.parse_args()
    labels, probs = synthetic_predictions(a.n, 0.85)
    calls = 20
    t = time.perf_counter()
    for _ in range(calls): classification_metrics(labels, probs)
    per_call = (time.perf_counter() - t) / calls
    t = time.perf_counter(); bootstrap_intervals(labels, probs, n_resamples=a.resamples); at_once = time.perf_counter() - t
    print(f"{a.n} examples, {a.resamples} resamples: sklearn once per resample {per_call * 1e3:.1f} ms a call, "
          f"{per_call * a.resamples:.1f} s in all; bootstrap_intervals {at_once:.2f} s ({per_call * a.resamples / at_once:.0f}x)")
