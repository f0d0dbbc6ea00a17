"""User-facing errors.

Raise ``FlowposeError`` (or a subclass) for anything a user can fix: a missing
or corrupt file, a bad config key, wrong shapes at an API boundary. The message
is one line that names the file or key and says what to do; the CLI prints it
without a traceback.
"""


class FlowposeError(Exception):
  """An error the user can fix; its message names the file/key and the fix."""


class InputError(FlowposeError):
  """Unreadable, missing or malformed input (image, video, dataset file)."""


class ConfigError(FlowposeError):
  """A bad config file, key or value."""


class TrainingDivergedError(FlowposeError):
  """The loss became NaN/Inf."""


class OutputError(FlowposeError):
  """A destination the user chose cannot be written (full, read-only, forbidden)."""
