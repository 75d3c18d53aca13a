"""What the process itself needs, below every stage: logs with secrets redacted (`logs.py`), the
cyclic garbage collector paused while a commit or a rendering allocates (`gc_pause.py`), and
freed heap handed back to the system (`memory.py`)."""
