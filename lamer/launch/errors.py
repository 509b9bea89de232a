"""The one error type of the launcher: bad arguments, bad config, a backend that cannot run."""


class LaunchError(Exception):
    """A launch that cannot start; the message names the option, file or line at fault."""
