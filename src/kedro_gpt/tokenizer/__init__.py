"""Sentencepiece training and encoding, special tokens, packed token shards, chat template;
the tokenizer interface and its Hugging Face ``tokenizer.json`` adapter."""
