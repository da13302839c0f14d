"""The gateway (nginx): one template (nginx.conf.template), rendered by render.py for the local
stack, docker-compose and Kubernetes; `python -m deploy.gateway write` regenerates the committed
configs (`check` says which differ)."""
