"""What the exporter serves over HTTP: the server and its state (`server`), the exporter-toolkit
web config (`webconfig`: TLS, basic auth) and the listener process (`listener_process`, started
as `listener_main`)."""
