"""Sentencepiece training and encoding, special tokens, packed token shards, chat template."""
