#!/bin/sh
# The compose broker (docker-compose.yml), authenticated like the local stack's
# (deploy/local/kafka_cluster.py): SASL/SCRAM-SHA-512 on both client listeners, the
# StandardAuthorizer refusing whatever no ACL allows, the controller listener on the container's
# loopback only. Writes server.properties from the environment (it holds the admin's password,
# so it stays inside the container), formats the storage once with the admin's SCRAM credential
# (Kafka stores a first credential only at format time), then runs Kafka. The services'
# principals and their ACLs are made by the kafka-access service (python -m gelombang.kafka_access).
set -eu
: "${KAFKA_ADMIN_PASSWORD:?set GELOMBANG_KAFKA_PASSWORD}"
: "${CLUSTER_ID:?}"
case "$KAFKA_ADMIN_PASSWORD" in
  *[!A-Za-z0-9._-]*) echo "GELOMBANG_KAFKA_PASSWORD: use [A-Za-z0-9._-] only" >&2; exit 1 ;;
esac
umask 077
conf=/tmp/server.properties
login=org.apache.kafka.common.security.scram.ScramLoginModule
cat > "$conf" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
controller.listener.names=CONTROLLER
# INTERNAL for the other containers, EXTERNAL for clients on the host (127.0.0.1:9092).
listeners=INTERNAL://:29092,EXTERNAL://:9092,CONTROLLER://localhost:9093
advertised.listeners=INTERNAL://kafka:29092,EXTERNAL://127.0.0.1:9092
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=$login required username="admin" password="$KAFKA_ADMIN_PASSWORD";
listener.name.external.scram-sha-512.sasl.jaas.config=$login required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# ANONYMOUS: the broker registering with its controller over the plaintext loopback listener.
super.users=User:admin;User:ANONYMOUS
log.dirs=/var/lib/kafka/data
num.partitions=12
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by the topics service; a typo in a topic name must fail.
auto.create.topics.enable=false
EOF
# For the healthcheck's client.
cat > /tmp/admin.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$login required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format -t "$CLUSTER_ID" -c "$conf" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
