"""The synthetic ZuCo corpus: raw files in the real ZuCo layouts (MATLAB v5 and v7.3 ``.mat``,
task-material CSVs with their quirks), its own sentences with 8 variants each, and EEG that
carries a learnable trace of the words read; plus the demo's tiny text model (``tiny_t5``).

``python -m data.synthetic --out DIR`` writes a corpus (``corpus``); the other modules are its
parts: ``plan`` (what is recorded), ``text``/``words`` (sentences), ``eeg`` (signals),
``records``/``mat``/``materials`` (the file writers). May import ``data`` and ``model``; nothing
outside tests and the demo imports it.
"""
