#!/bin/sh
# Makes (or updates) a RabbitMQ user for one role of a RockBLOCK station and
# gives it only what that role needs. This file is the one home of the
# roles' permissions: the README and the package's examples point here, and
# the broker tests run it.
#
#   broker-users.sh [-p VHOST] [-s STATION]... ROLE USER
#
# ROLE is one of
#   rbd     the daemon: publishes mt.*, status.*, signal.*, session.*;
#           declares and reads the outbox, control and rejected queues.
#   client  rbtui (terminal, send, signal, dead): publishes mo.* and
#           cancel.* (and history.end, the end mark of its history replay);
#           declares and reads its inbox and live feed.
#   bridge  rbtui serve: the client's permissions, as a user of its own.
#
# -s STATION limits the user to a station: its routing keys carry that
# station (mt.STATION, mo.STATION, ...) and rbd's queues are that station's.
# rbd takes exactly one; a client or bridge may repeat -s for each station
# it follows (it cannot then follow every station, rbtui --all: binding its
# live feed to signal.* is refused). Without -s the user may act for every
# station. A station name is 1 to 64 letters, digits, '-' and '_' (the rule
# of rb.CheckStation), so it goes into the patterns as it is.
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
#   topic      on a topic exchange (rockblock, and rockblock.dlx.route for a
#              station's rbd): the routing keys the user may publish (write)
#              and bind its queues to (read). A binding is checked as
#              written: the stream's binding mt.* is the key "mt.*".
# A client may not publish to the default exchange (amq.default: that reaches
# every queue by name), nor to rockblock.dlx or rockblock.dlx.route (the way
# of dead-lettered sends to rbd). Consumers also refuse a body whose type disagrees with its
# routing key, so a permitted key cannot carry another type.
set -eu

export LC_ALL=C # the name rule's ranges are ASCII's

usage() {
	echo "usage: broker-users.sh [-p VHOST] [-s STATION]... rbd|client|bridge USER" >&2
	exit 2
}

vhost=/
stations=
while getopts p:s: opt; do
	case $opt in
	p) vhost=$OPTARG ;;
	s)
		# rb.CheckStation: 1 to 64 bytes of letters, digits, '-' and '_',
		# none of them special in a regular expression.
		case $OPTARG in
		'' | *[!A-Za-z0-9_-]*)
			echo "broker-users.sh: bad station '$OPTARG': only letters, digits, '-' and '_' are allowed" >&2
			exit 2
			;;
		esac
		if [ ${#OPTARG} -gt 64 ]; then
			echo "broker-users.sh: station '$OPTARG' is over 64 bytes" >&2
			exit 2
		fi
		case "|$stations|" in
		*"|$OPTARG|"*) ;;
		*) stations=${stations:+$stations|}$OPTARG ;;
		esac
		;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 2 ]; then
	usage
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
# A station word of a routing key or queue name: any, or the -s stations.
# The history stream is bound (by every process) to mt.*, status.* and
# session.* as written, and is read whole; a station's user keeps those
# bindings, and with them the records of every station (the stream holds
# them all), but not another station's signals, nor its MO or cancels.
if [ -n "$stations" ]; then
	st="($stations)"
	stream='|(mt|status|session)\.\*'
else
	st='[^.]+'
	stream=
fi
dlx_topic=
case $role in
rbd)
	case $stations in
	*'|'*)
		echo "broker-users.sh: rbd runs one station: give one -s" >&2
		exit 2
		;;
	esac
	if [ -n "$stations" ]; then
		qst="\\.$stations"
		# The station's dead sends: its rejected queue is bound to
		# rockblock.dlx.route by mo.STATION, and only that key may be
		# bound or published there.
		dlx_topic="^mo\\.$stations\$"
	else
		qst='\..+'
	fi
	names="^($shared|rockblock\.dlx\.route|rockblock\.(outbox|control|rejected)$qst)\$"
	write=$names
	topic_write="^(mt|status|signal|session)\\.$st\$"
	topic_read="^((mo|cancel|mt|status|session)\\.$st$stream|history\\.end)\$"
	;;
client | bridge)
	names="^($shared|rockblock\.inbox\..+|amq\.gen-.+)\$"
	write="^(rockblock|rockblock\.dead|rockblock\.history|rockblock\.inbox\..+|amq\.gen-.+)\$"
	topic_write="^((mo|cancel)\\.$st|history\\.end)\$"
	topic_read="^((mt|status|session|signal)\\.$st$stream|history\\.end)\$"
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
if [ -n "$dlx_topic" ]; then
	$ctl -q set_topic_permissions -p "$vhost" "$user" rockblock.dlx.route "$dlx_topic" "$dlx_topic"
else
	$ctl -q clear_topic_permissions -p "$vhost" "$user" rockblock.dlx.route 2>/dev/null || true
fi
echo "broker user $user: role $role on vhost $vhost${stations:+, station(s) $stations}"
