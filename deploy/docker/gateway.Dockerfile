# The Kubernetes gateway's image: nginx without root, and the sign-up page (web/) in its html
# folder. Its nginx.conf comes from the ConfigMap gateway-nginx (deploy/k8s/gateway.yaml),
# rendered from deploy/gateway/nginx.conf.template. docker-compose.yml mounts ./web instead.
#
# Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t gelombang/gateway:1 .
FROM nginxinc/nginx-unprivileged:1.27

COPY web/ /usr/share/nginx/html/
