"""ZuCo preprocessing (docs/protocol.md §inputs to §split): readers of the raw ``.mat`` and CSV
files, the typo book, the preprocessing steps as functions (``steps``), the word-level features of
the BrainTranslator baseline (``word_features``), the ``prepare`` command that writes a processed
store, the variant generator (``variants``), the importer of the original's pickled EEG table
(``import_table``), and the step notebooks ``__STEP1..4*.ipynb``. May import ``data`` (the store),
``model`` (text models for the variants) and ``infra``; the training data never imports it.
"""
