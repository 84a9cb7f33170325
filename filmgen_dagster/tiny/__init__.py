"""Tiny randomly initialised models, saved in Hugging Face format, that exercise the real loading code."""
