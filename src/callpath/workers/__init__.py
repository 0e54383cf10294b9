"""Long-running work beside the requests: processes (`applier`, `asterisk`) and the
background threads a server process runs (`planning`, `zadarma_confirm`). Each is
started from outside (the command, the web app); the libraries below them start
nothing and trap no signals."""
