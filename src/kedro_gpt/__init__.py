"""kedro-gpt: from raw text to a served GPT in one traceable Kedro pipeline."""

__version__ = "0.1.0"
