"""The one exception type the CLI turns into a one-line message and exit code 1."""


class HvlabError(Exception):
    """A problem the user can act on; its text is shown as-is, without a traceback."""
