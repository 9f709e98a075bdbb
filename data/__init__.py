"""GLIM's data: the processed-store contract (``store``), samples (``dataset``), the original's
batch sampler (``sampler``), the Lightning data module (``datamodule``) and the prompt
vocabularies (``prompts``); for the BrainTranslator baseline the word-level features in a store
(``word_store``, written with ``npy_rows``) and their samples and data module (``word_dataset``,
``word_datamodule``). ``data.preprocess`` turns raw ZuCo into a store; ``data.synthetic``
writes a ZuCo-shaped corpus for tests and the demo. May import ``model`` and ``infra``.
"""
