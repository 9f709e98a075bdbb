"""Everything ``test.py``, the notebooks and the scorer compute, as a library: predictions
(``predict``), per-sample metrics (``metrics``, ``scoring``), retrieval, zero-shot
classification, controls and statistics, the report and its figures, the ``score`` and
``aggregate`` commands, LLM-assisted classification, and the full validation run during training
(``full_validation``). May import ``data``, ``model`` and ``infra``; only scripts import it.
"""
