"""The labels of ZuCo's classification tasks and the sentence that states each label.

GLIM classifies zero-shot by comparing a sample's vector with the vectors of these sentences
(``evaluation.zero_shot``, docs/protocol.md §evaluation); the demo's tiny text model learns them
among the corpus' sentences (``data.synthetic.tiny_t5``), as Flan-T5 knows their words.
"""
from __future__ import annotations

SENTIMENTS = ("negative", "neutral", "positive")
RELATIONS = ("awarding", "education", "employment", "foundation", "job title", "nationality",
             "political affiliation", "visit", "marriage")
CORPORA = ("movie", "biography")

SENTIMENT_SENTENCES = tuple(f"Sentiment classification: It is {x}." for x in SENTIMENTS)
RELATION_SENTENCES = tuple(f"Relation classification: It is about {x}." for x in RELATIONS)
CORPUS_SENTENCES = ("The topic is about: movie, good or bad",
                    "The topic is about: life experiences, relationship")
"""One per label of ``SENTIMENTS``, ``RELATIONS`` and ``CORPORA``, in their order."""

LABEL_SENTENCES = SENTIMENT_SENTENCES + RELATION_SENTENCES + CORPUS_SENTENCES
