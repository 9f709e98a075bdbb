"""The GLIM network and its LightningModule: building blocks (``blocks``), the EEG encoder, the
prompt embedder, the aligner, the losses, the frozen text model and its state cache, ``glim``
(the LightningModule: wiring, losses, logging; its constructor arguments are the typed
hyper-parameters, named as in the published checkpoint) and ``checkpoint`` (loading a GLIM or
BrainTranslator checkpoint strictly). The BrainTranslator baseline: ``word_encoder``,
``brain_translator`` (the network), ``brain_translator_module`` (its LightningModule),
``brain_translator_config`` and ``bart`` (a tiny local BART). May import ``infra`` only.
"""
