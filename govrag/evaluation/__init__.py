"""Measuring retrieval quality: ranking metrics and the BEIR evaluation of the whole pipeline."""
