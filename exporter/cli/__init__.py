"""The command layer: the command line (`main`), what each command does (`commands`), the
process around one daemon (`process`: listener, signals, scheduler) and the demo (`demo`)."""
