"""Exit codes of the command line (docs: README, "Exit codes")."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
