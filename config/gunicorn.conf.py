# gunicorn settings for the web app: gunicorn -c config/gunicorn.conf.py "tellusonce:create_app()"
# (`tellusonce serve` uses this file). Bind and workers can be given on the command line too.
import os

bind = os.environ.get("TELLUSONCE_WEB_LISTEN", "127.0.0.1:5000")
workers = int(os.environ.get("TELLUSONCE_WEB_WORKERS", "2"))
accesslog = "-"
# Emailed links carry single-use tokens in their paths: keep them out of the access log.
logger_class = "tellusonce.web.accesslog.RedactingLogger"
# A request is small (1 MB at most) and quick; a client that stalls is let go.
timeout = 30
graceful_timeout = 20
forwarded_allow_ips = os.environ.get("TELLUSONCE_FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 25.1+ opens a management socket (worker count, reload, shutdown) in $HOME or
# $XDG_RUNTIME_DIR by default, one path for every gunicorn of the user: the demo's web and receiver
# would take it from each other, and a service account's home may be read-only. The service is run
# by signals and its process manager instead.
control_socket_disable = True
