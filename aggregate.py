"""Aggregate several test.py runs (e.g. seeds): mean ± 95% t-interval per metric.

    python aggregate.py results/run1 results/run2 ... --out results/agg
"""
import sys

from evaluation.across_runs import main

if __name__ == "__main__":
    sys.exit(main())
