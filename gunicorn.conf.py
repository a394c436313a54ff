"""gunicorn's settings file, read from the working directory by every ``gunicorn wsgi:app`` started there (the
Procfile, deploy/systemd, bench/, the tests' servers). Settings given on the command line still win; this file
sets only what a command line cannot: the worker's start-up hook (marketplace/web/serving.py)."""


def post_worker_init(worker):
    from marketplace.web.serving import settle_worker

    settle_worker(worker.wsgi)
