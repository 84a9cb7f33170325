"""Errors a user can cause. Each carries one sentence naming the input and the fix; the CLI prints
that sentence alone (no traceback) and exits non-zero."""


class UserInputError(Exception):
    """Base of every error whose cause and fix lie with the user's input."""


class StoryError(UserInputError):
    pass


class ProfileError(UserInputError):
    pass


class ModelLoadError(UserInputError):
    """A profile names a model that cannot be loaded (missing path, no network, wrong class)."""


class StoreUnavailable(UserInputError):
    """The media store cannot be written (disk full, read-only, a path that is not a folder)."""
