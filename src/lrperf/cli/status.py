"""The exit statuses of the lrperf command."""
EXIT_OK = 0
EXIT_FAILED = 1          # not the input's fault: a run that wrote nothing, a disk error
EXIT_BAD_INPUT = 2       # argparse's own status too
EXIT_INTERRUPTED = 130   # Ctrl-C
EXIT_TERMINATED = 143    # SIGTERM
