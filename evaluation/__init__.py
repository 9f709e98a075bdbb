"""Everything ``test.py``, full validation, the notebooks and the scorer compute, as a library. The
entry point is ``run`` (``evaluate``: the test loader, inference under the run's numerics, every
per-sample score, one ``Evaluation``; ``run``: test.py's run) with ``result`` (the one result of a
test run and its files); the parts are inference (``predict``), per-sample metrics (``metrics``,
``sample_scores``), their summaries (``summary``), retrieval, zero-shot classification, controls
and statistics, the report and its figures, the protocol's numbers (``protocol``), the ``score``
and ``compare`` commands and the aggregate across runs (``across_runs``), LLM-assisted
classification, and the full validation run during training (``full_validation``). May import
``data``, ``model`` and ``infra``; only scripts and ``training`` import it.
"""
