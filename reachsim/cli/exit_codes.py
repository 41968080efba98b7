"""Exit codes of the command line (docs: README, "Exit codes"), and the error that means exit 2."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line arguments (exit 2)."""
