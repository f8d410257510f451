#!/bin/sh
# Makes (or updates) a RabbitMQ user for one role of a RockBLOCK station and
# gives it only what that role needs. This file is the one home of the
# roles' permissions: the README and the package's examples point here, and
# the broker tests run it.
#
#   broker-users.sh [-p VHOST] ROLE USER
#
# ROLE is one of
#   rbd     the daemon: publishes mt.*, status.*, signal.*, session.*;
#           declares and reads the outbox, control and rejected queues.
#   client  rbtui (terminal, send, signal, dead): publishes mo.* and
#           cancel.* (and history.end, the end mark of its history replay);
#           declares and reads its inbox and live feed.
#   bridge  rbtui serve: the client's permissions, as a user of its own.
#
# The password comes from RB_BROKER_PASSWORD, else one line of standard
# input (asked for on a terminal), so that it stays out of the shell history.
# An existing user keeps its tags and gets the new password and permissions.
# RABBITMQCTL names the rabbitmqctl to run (default: rabbitmqctl; e.g.
# "rabbitmqctl -n rabbit@other").
#
# What the permissions mean (RabbitMQ access control, 3.10):
#   configure  declare (and delete) the queues and exchanges named;
#   write      publish to the exchanges named, bind the queues named;
#   read       consume the queues named, bind from the exchanges named;
#   topic      on the topic exchange rockblock: the routing keys the user may
#              publish (write) and bind its queues to (read).
# A client may not publish to the default exchange (amq.default: that reaches
# every queue by name), nor to rockblock.dlx or rockblock.dlx.route (the way
# of dead-lettered sends to rbd). Consumers also refuse a body whose type disagrees with its
# routing key, so a permitted key cannot carry another type.
set -eu

vhost=/
if [ "${1:-}" = -p ]; then
	vhost=$2
	shift 2
fi
if [ $# -ne 2 ]; then
	echo "usage: broker-users.sh [-p VHOST] rbd|client|bridge USER" >&2
	exit 2
fi
role=$1
user=$2
ctl=${RABBITMQCTL:-rabbitmqctl}

# Resource names (regular expressions, anchored). Every process declares the
# exchanges, rockblock.dead and rockblock.history (idempotently): configure
# on them, read on the exchanges to bind rockblock.dead and the stream.
# Write (publish to an exchange, bind a queue) is narrower for a client: not
# rockblock.dlx, which routes dead sends to rbd (rockblock.dlx.route). A
# client declares no queue with a dead-letter exchange (which would need
# write on it); the broker's dead-lettering needs no permission of the user.
shared='rockblock|rockblock\.dlx|rockblock\.dead|rockblock\.history'
case $role in
rbd)
	names="^($shared|rockblock\.dlx\.route|rockblock\.(outbox|control|rejected)\..+)\$"
	write=$names
	topic_write='^(mt|status|signal|session)\.[^.]+$'
	topic_read='^((mo|cancel|mt|status|session)\.[^.]+|history\.end)$'
	;;
client | bridge)
	names="^($shared|rockblock\.inbox\..+|amq\.gen-.+)\$"
	write="^(rockblock|rockblock\.dead|rockblock\.history|rockblock\.inbox\..+|amq\.gen-.+)\$"
	topic_write='^((mo|cancel)\.[^.]+|history\.end)$'
	topic_read='^((mt|status|session|signal)\.[^.]+|history\.end)$'
	;;
*)
	echo "broker-users.sh: unknown role $role: want rbd, client or bridge" >&2
	exit 2
	;;
esac

pass=${RB_BROKER_PASSWORD:-}
if [ -z "$pass" ]; then
	if [ -t 0 ]; then
		printf 'password for broker user %s: ' "$user" >&2
		stty -echo
		IFS= read -r pass || true
		stty echo
		echo >&2
	else
		IFS= read -r pass || true
	fi
fi
if [ -z "$pass" ]; then
	echo "broker-users.sh: no password (RB_BROKER_PASSWORD or standard input)" >&2
	exit 2
fi

if $ctl -q list_users | awk '{print $1}' | grep -qxF -- "$user"; then
	$ctl -q change_password "$user" "$pass"
else
	$ctl -q add_user "$user" "$pass"
fi
$ctl -q set_permissions -p "$vhost" "$user" "$names" "$write" "$names"
$ctl -q set_topic_permissions -p "$vhost" "$user" rockblock "$topic_write" "$topic_read"
echo "broker user $user: role $role on vhost $vhost"
