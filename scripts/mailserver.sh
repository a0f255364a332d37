#!/usr/bin/env bash
# mailserver.sh - coiweb's local mail server: Dovecot + Postfix on 127.0.0.1 only.
#
#   mailserver.sh up                  install packages if missing, write config, make TLS certs, start
#                                     (if already running: rewrite config, reload only if it changed)
#   mailserver.sh down                stop Postfix and Dovecot (users and mail are kept)
#   mailserver.sh restart             down + up
#   mailserver.sh status              pids, listening ports, users, mail queue (exit 3 if not running)
#   mailserver.sh adduser EMAIL PASS  add a user or change its password (effective immediately)
#   mailserver.sh adduser-coi EMAIL PASS
#                                     the same, as a user of an emulated COI server: only this user gets
#                                     the COI capability, mailbox-root COI and a Sieve script that files
#                                     chat mail as the COI plugin does (see coi_sieve_script)
#   mailserver.sh addusers PREFIX N [PASS] [DOMAIN]
#                                     bulk-add PREFIX0001..PREFIXnnnn@DOMAIN (load tests; PASS default "secret")
#   mailserver.sh deluser EMAIL       remove a user (its mail stays on disk)
#   mailserver.sh users               list users
#   mailserver.sh postfix-stop        stop Postfix only (SMTP outage for tests)
#   mailserver.sh postfix-start       start Postfix only
#   mailserver.sh dovecot-restart     stop and start Dovecot (drops every IMAP connection)
#   mailserver.sh env                 print the settings clients need, as KEY=VALUE lines
#
# Ports (127.0.0.1): IMAP 3143 (plaintext login + STARTTLS, IDLE), IMAPS 3993, submission 3587
# (STARTTLS required, then AUTH), submissions 3465 (implicit TLS + AUTH), SMTP 3025 (no auth, lab
# domains only, like an MX), LMTP 3024 (direct injection into Dovecot), ManageSieve 3190.
# Postfix never relays and never does DNS: mail for any other domain is rejected at RCPT time.
# No systemd needed: the daemons are started directly, detached, with their pid files in the state dir.
#
# Environment overrides [defaults]; values given at `up` are saved in $COIWEB_MAIL_DIR/settings.env
# and reused by later commands unless set again:
#   COIWEB_MAIL_DIR [/var/tmp/coiweb-mail]  COIWEB_MAIL_DOMAIN [example.org]
#   COIWEB_MAIL_HOSTNAME [mail.$COIWEB_MAIL_DOMAIN]
#   COIWEB_IMAP_PORT [3143] COIWEB_IMAPS_PORT [3993] COIWEB_SUBMISSION_PORT [3587]
#   COIWEB_SUBMISSIONS_PORT [3465] COIWEB_SMTP_PORT [3025] COIWEB_LMTP_PORT [3024] COIWEB_SIEVE_PORT [3190]
#   COIWEB_MAIL_STRICT_SENDER [1]  1 = submission rejects envelope senders other than the login
#   COIWEB_MAIL_MAX_CONN [2048]    max concurrent IMAP connections (also per user and IP)
#   COIWEB_MAIL_COI [0]            1 = advertise the COI IMAP capability (imap_capability = +COI)
set -euo pipefail

MAIL_DIR=${COIWEB_MAIL_DIR:-/var/tmp/coiweb-mail}
SETTINGS=$MAIL_DIR/settings.env
if [ -r "$SETTINGS" ]; then
    while IFS= read -r _line; do
        _k=${_line%%=*}
        case "$_k" in COIWEB_*) [ -z "${!_k+x}" ] && export "$_k=${_line#*=}" ;; esac
    done <"$SETTINGS"
fi
DOMAIN=${COIWEB_MAIL_DOMAIN:-example.org}
MAILHOST=${COIWEB_MAIL_HOSTNAME:-mail.$DOMAIN}
IMAP_PORT=${COIWEB_IMAP_PORT:-3143}
IMAPS_PORT=${COIWEB_IMAPS_PORT:-3993}
SUBMISSION_PORT=${COIWEB_SUBMISSION_PORT:-3587}
SUBMISSIONS_PORT=${COIWEB_SUBMISSIONS_PORT:-3465}
SMTP_PORT=${COIWEB_SMTP_PORT:-3025}
LMTP_PORT=${COIWEB_LMTP_PORT:-3024}
SIEVE_PORT=${COIWEB_SIEVE_PORT:-3190}
STRICT_SENDER=${COIWEB_MAIL_STRICT_SENDER:-1}
MAX_CONN=${COIWEB_MAIL_MAX_CONN:-2048}
COI=${COIWEB_MAIL_COI:-0}

VMAIL=vmail
DC_DIR=$MAIL_DIR/dovecot
DC_CONF=$DC_DIR/dovecot.conf
PASSWD_DIR=$DC_DIR/passwd        # one passwd-file per user: $PASSWD_DIR/<domain>/<localpart>
DC_RUN=$MAIL_DIR/run/dovecot     # Dovecot base_dir (master.pid, sockets)
PF_DIR=$MAIL_DIR/postfix         # Postfix config dir (main.cf, master.cf, lookup tables)
PF_SPOOL=$MAIL_DIR/postfix-spool # Postfix queue_directory (pid/master.pid)
PF_DATA=$MAIL_DIR/postfix-data
TLS=$MAIL_DIR/tls
LOGS=$MAIL_DIR/log
MAILROOT=$MAIL_DIR/mail

MAIL_PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sieve dovecot-managesieved openssl iproute2)

log() { printf '[coiweb-mail] %s\n' "$*" >&2; }
die() { printf '[coiweb-mail] ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (try: sudo $0 ${CMD:-})"; }
all_ports() { echo "$IMAP_PORT $IMAPS_PORT $SUBMISSION_PORT $SUBMISSIONS_PORT $SMTP_PORT $LMTP_PORT $SIEVE_PORT"; }
dovecot_ports() { echo "$IMAP_PORT $IMAPS_PORT $LMTP_PORT $SIEVE_PORT"; }
postfix_ports() { echo "$SMTP_PORT $SUBMISSION_PORT $SUBMISSIONS_PORT"; }

# Serialise commands that change state (several clones/test runs share one instance).
take_lock() {
    mkdir -p "$MAIL_DIR"
    exec 9>"$MAIL_DIR/.lock"
    flock -w 60 9 || die "timed out waiting for $MAIL_DIR/.lock"
}

# ---------------------------------------------------------------- install
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

install_packages() {
    local missing=() p
    for p in "${MAIL_PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    local apt_log=/var/log/coiweb-mail-apt.log own_policy=0 rc=0
    # Keep the package scripts from starting the distro instances (ports 25/143/993...).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
        { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >>"$apt_log" 2>&1 || rc=$?
    fi
    [ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ $rc != 0 ]; then
        tail -n 30 "$apt_log" >&2
        die "apt-get install failed (full log: $apt_log)"
    fi
    # On a systemd machine keep the distro units off so they can never clash with this instance.
    if [ -d /run/systemd/system ]; then
        systemctl disable --now postfix.service dovecot.service >/dev/null 2>&1 || true
    fi
}

ensure_vmail_user() {
    getent passwd "$VMAIL" >/dev/null && return 0
    log "creating system user $VMAIL (owns every mailbox; mail users are virtual)"
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$VMAIL"
}

save_settings() {
    cat >"$SETTINGS.new" <<EOF
COIWEB_MAIL_DOMAIN=$DOMAIN
COIWEB_MAIL_HOSTNAME=$MAILHOST
COIWEB_IMAP_PORT=$IMAP_PORT
COIWEB_IMAPS_PORT=$IMAPS_PORT
COIWEB_SUBMISSION_PORT=$SUBMISSION_PORT
COIWEB_SUBMISSIONS_PORT=$SUBMISSIONS_PORT
COIWEB_SMTP_PORT=$SMTP_PORT
COIWEB_LMTP_PORT=$LMTP_PORT
COIWEB_SIEVE_PORT=$SIEVE_PORT
COIWEB_MAIL_STRICT_SENDER=$STRICT_SENDER
COIWEB_MAIL_MAX_CONN=$MAX_CONN
COIWEB_MAIL_COI=$COI
EOF
    mv "$SETTINGS.new" "$SETTINGS"
}

# ---------------------------------------------------------------- TLS
cert_ok() {
    [ -s "$TLS/ca.pem" ] && [ -s "$TLS/server.pem" ] && [ -s "$TLS/server.key" ] || return 1
    openssl x509 -in "$TLS/server.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$TLS/ca.pem" "$TLS/server.pem" >/dev/null 2>&1 || return 1
    openssl x509 -in "$TLS/server.pem" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$MAILHOST\b"
}

make_ca() {
    [ -s "$TLS/ca.pem" ] && [ -s "$TLS/ca.key" ] \
        && openssl x509 -in "$TLS/ca.pem" -noout -checkend $((365 * 86400)) >/dev/null 2>&1 && return 0
    log "creating the local CA in $TLS/ca.pem"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -subj "/O=coiweb local mail/CN=coiweb local mail CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_certs() {
    mkdir -p "$TLS"
    chmod 755 "$TLS"
    cert_ok && return 0
    (
        umask 077
        make_ca
        log "creating the server certificate for $MAILHOST"
        cd "$TLS"
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
            -subj "/O=coiweb local mail/CN=$MAILHOST" 2>/dev/null
        cat >server.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$MAILHOST,DNS:$DOMAIN,DNS:imap.$DOMAIN,DNS:smtp.$DOMAIN,DNS:localhost,IP:127.0.0.1,IP:::1
EOF
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 \
            -extfile server.ext -out server.pem 2>/dev/null
        cat server.pem ca.pem >server-fullchain.pem
        rm -f server.csr
        chmod 644 ca.pem server.pem server-fullchain.pem
        chmod 600 ca.key server.key
    )
}

# ---------------------------------------------------------------- users
# Each user is one passwd-file, $PASSWD_DIR/<domain>/<localpart>, holding "email:{PLAIN}password::::::".
# Dovecot opens a per-user file on lookup, so a new user works at once. (A single shared passwd-file
# is re-read by Dovecot at most once a second and only when its mtime or size changes.)
valid_email() { [[ "$1" =~ ^[a-z0-9_-][a-z0-9._-]*@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$ ]] && [[ "$1" != *..* ]]; }
user_file() { local e=${1,,}; echo "$PASSWD_DIR/${e#*@}/${e%%@*}"; }

ensure_passwd_dir() {
    mkdir -p "$PASSWD_DIR"
    chown root:dovecot "$PASSWD_DIR"
    chmod 750 "$PASSWD_DIR"
}

list_users() {
    [ -d "$PASSWD_DIR" ] || return 0
    find "$PASSWD_DIR" -mindepth 2 -maxdepth 2 -type f ! -name '.*' -exec cat {} + 2>/dev/null | cut -d: -f1 | sort
}

# Dovecot re-checks a passwd-file at most once per second, by mtime and size. After changing or
# deleting an existing file, make sure its mtime differs and that the next second has begun.
settle_dovecot() { # settle_dovecot OLD_MTIME FILE
    local old=$1 file=$2 now
    if [ -e "$file" ] && [ "$(stat -c %Y "$file")" = "$old" ]; then
        touch -d "@$((old + 1))" "$file"
    fi
    now=$(date +%s.%N)
    sleep "$(awk -v n="$now" 'BEGIN { printf "%.3f", int(n) + 1.02 - n }')"
}

# write_user EMAIL PASSWORD [EXTRA_FIELDS] -> 0 if written, 1 if unchanged. No map rebuild.
write_user() {
    local email=${1,,} pass=$2 extra=${3:-} file dir line old_mtime=""
    valid_email "$email" || die "invalid email address: $1 (allowed: a-z 0-9 . _ - in the local part)"
    case "$pass" in "" | *:* | *$'\n'* | *' '*) die "password must be non-empty, without ':' or spaces" ;; esac
    file=$(user_file "$email")
    dir=$(dirname "$file")
    line="$email:{PLAIN}$pass::::::$extra"
    if [ -e "$file" ]; then
        [ "$(cat "$file")" = "$line" ] && return 1
        old_mtime=$(stat -c %Y "$file")
    fi
    mkdir -p "$dir"
    chown root:dovecot "$dir"
    chmod 750 "$dir"
    (umask 027 && printf '%s\n' "$line" >"$file.tmp")
    chown root:dovecot "$file.tmp"
    mv -f "$file.tmp" "$file"
    [ -n "$old_mtime" ] && settle_dovecot "$old_mtime" "$file"
    return 0
}

# Postfix tables generated from the passwd-files. Each .db is built aside and renamed into place:
# a running smtpd sees that its open table was replaced (link count 0) and restarts before the next
# connection, so changes apply immediately without a reload.
rebuild_postfix_maps() {
    mkdir -p "$PF_DIR"
    local users
    users=$(list_users)
    printf '%s\n' "$users" | awk 'NF {print $1 "\t" $1}' >"$PF_DIR/vmailbox.new"
    { echo "$DOMAIN"; printf '%s\n' "$users" | awk -F@ 'NF == 2 {print $2}'; } | sort -u \
        | awk 'NF {print $1 "\tOK"}' >"$PF_DIR/vdomains.new"
    # postmaster@ and abuse@ of every lab domain go to the first user of that domain
    printf '%s\n' "$users" | awk -F@ 'NF == 2 && !($2 in d) {d[$2] = $0}
        END {for (k in d) {print "postmaster@" k "\t" d[k]; print "abuse@" k "\t" d[k]}}' | sort >"$PF_DIR/valiases.new"
    local m
    for m in vmailbox vdomains valiases; do
        postmap -c "$PF_DIR" "hash:$PF_DIR/$m.new"
        mv -f "$PF_DIR/$m.new.db" "$PF_DIR/$m.db"
        mv -f "$PF_DIR/$m.new" "$PF_DIR/$m"
    done
}

cmd_adduser() {
    need_root
    [ $# -eq 2 ] || die "usage: $0 adduser EMAIL PASSWORD"
    take_lock
    require_config
    ensure_passwd_dir
    if write_user "$1" "$2"; then
        rebuild_postfix_maps
        log "user ${1,,} ready"
    else
        log "user ${1,,} already exists with that password"
    fi
}

# A COI user, emulated per user so that nothing changes for anyone else on this shared server:
# userdb fields (from this user's passwd-file) add the COI capability after login and enable
# Sieve's servermetadata extension, and the user's own Sieve script reads the COI config
# METADATA at each delivery, as the plugin's LMTP side does: with enabled=yes chat mail gets
# $Chat, with message-filter=active it is filed into COI/Chats (created when missing).
# Not emulated: the plugin's checks on SETMETADATA values, folder creation on enabled=yes,
# and the seen-filter move (that needs imap_sieve loaded for every user).
COI_USERDB_FIELDS="userdb_imap_capability=+COI userdb_sieve_extensions=+servermetadata"

coi_sieve_script() {
    cat <<'EOF'
# Generated by scripts/mailserver.sh: emulates the Dovecot COI plugin's delivery filter.
require ["fileinto", "imap4flags", "mailbox", "servermetadata", "comparator-i;octet"];
# COI's chat test: Chat-Version present, or a Message-ID / first References id starting
# with "chat$" (case-sensitive, hence i;octet).
if anyof (exists "Chat-Version",
          header :comparator "i;octet" :matches "Message-ID" "<chat$*",
          header :comparator "i;octet" :matches "References" "<chat$*") {
  if servermetadata :comparator "i;octet" :is
      "/private/vendor/vendor.dovecot/coi/config/enabled" "yes" {
    addflag "$Chat";
    if servermetadata :comparator "i;octet" :is
        "/private/vendor/vendor.dovecot/coi/config/message-filter" "active" {
      fileinto :create "COI/Chats";
      stop;
    }
  }
}
EOF
}

cmd_adduser_coi() {
    need_root
    [ $# -eq 2 ] || die "usage: $0 adduser-coi EMAIL PASSWORD"
    local email=${1,,} home
    take_lock
    require_config
    ensure_passwd_dir
    if write_user "$email" "$2" "$COI_USERDB_FIELDS"; then rebuild_postfix_maps; fi
    home=$MAILROOT/${email#*@}/${email%%@*}
    mkdir -p "$home"
    coi_sieve_script >"$home/.dovecot.sieve"
    chown "$VMAIL:$VMAIL" "$MAILROOT/${email#*@}" "$home" "$home/.dovecot.sieve"
    # The plugin always answers mailbox-root COI (read-only there).
    doveadm -c "$DC_CONF" mailbox metadata set -u "$email" -s "" \
        /private/vendor/vendor.dovecot/coi/config/mailbox-root COI </dev/null 9>&-
    log "COI user $email ready"
}

cmd_addusers() {
    need_root
    [ $# -ge 2 ] || die "usage: $0 addusers PREFIX COUNT [PASSWORD] [DOMAIN]"
    local prefix=${1,,} count=$2 pass=${3:-secret} dom=${4:-$DOMAIN} i width email file
    [[ "$count" =~ ^[0-9]+$ ]] || die "COUNT must be a number"
    take_lock
    require_config
    ensure_passwd_dir
    width=${#count}
    [ "$width" -lt 4 ] && width=4
    valid_email "$(printf '%s%0*d@%s' "$prefix" "$width" 1 "${dom,,}")" || die "invalid prefix or domain"
    mkdir -p "$PASSWD_DIR/${dom,,}"
    chown root:dovecot "$PASSWD_DIR/${dom,,}"
    chmod 750 "$PASSWD_DIR/${dom,,}"
    (
        umask 027
        for ((i = 1; i <= count; i++)); do
            printf -v email '%s%0*d@%s' "$prefix" "$width" "$i" "${dom,,}"
            file=$PASSWD_DIR/${dom,,}/${email%%@*}
            [ -e "$file" ] && continue
            printf '%s:{PLAIN}%s::::::\n' "$email" "$pass" >"$file"
        done
    )
    chown -R root:dovecot "$PASSWD_DIR/${dom,,}"
    rebuild_postfix_maps
    log "added $count users $(printf '%s%0*d' "$prefix" "$width" 1)..$(printf '%s%0*d' "$prefix" "$width" "$count")@${dom,,} (existing ones kept; new ones have password $pass)"
}

cmd_deluser() {
    need_root
    [ $# -eq 1 ] || die "usage: $0 deluser EMAIL"
    local email=${1,,} file mtime
    take_lock
    require_config
    file=$(user_file "$email")
    if [ ! -e "$file" ]; then
        log "no such user: $email"
        return 0
    fi
    mtime=$(stat -c %Y "$file")
    rm -f "$file"
    rebuild_postfix_maps
    settle_dovecot "$mtime" "$file"
    log "user $email removed (mail kept in $MAILROOT)"
}

cmd_users() { list_users; }

# ---------------------------------------------------------------- config
# Replace a config file only when its content changed: Postfix tools wait until main.cf is at
# least a second old before reading it, so rewriting it every time would slow every command.
install_if_changed() { # install_if_changed NEW TARGET
    if cmp -s "$1" "$2"; then rm -f "$1"; else mv -f "$1" "$2"; fi
}

write_dovecot_conf() {
    local uid gid coi_line=""
    uid=$(id -u "$VMAIL")
    gid=$(id -g "$VMAIL")
    [ "$COI" = 1 ] && coi_line="imap_capability = +COI"
    mkdir -p "$DC_DIR" "$DC_RUN" "$MAIL_DIR/state/dovecot" "$LOGS" "$MAILROOT"
    chown "$VMAIL:$VMAIL" "$MAILROOT"
    chmod 770 "$MAILROOT"
    cat >"$DC_CONF.new" <<EOF
# Generated by scripts/mailserver.sh - do not edit, edit the script instead.
# Standalone Dovecot config for coiweb's local mail server (does not include /etc/dovecot).
instance_name = coiweb-mail
hostname = $MAILHOST
base_dir = $DC_RUN
state_dir = $MAIL_DIR/state/dovecot
protocols = imap lmtp sieve
listen = 127.0.0.1
log_path = $LOGS/dovecot.log
info_log_path = $LOGS/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
login_greeting = coiweb local mail ready.
verbose_proctitle = yes
shutdown_clients = yes

default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid

# ---- auth: virtual users, one passwd-file per user; all mail is owned by the '$VMAIL' system user
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_username_format = %Lu
auth_verbose = yes
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $PASSWD_DIR/%Ld/%Ln
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $PASSWD_DIR/%Ld/%Ln
  default_fields = uid=$VMAIL gid=$VMAIL home=$MAILROOT/%Ld/%Ln
}

# ---- storage
mail_location = maildir:~/Maildir
mail_attribute_dict = file:%h/dovecot-attributes
mail_max_userip_connections = $MAX_CONN
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}

# ---- TLS (local CA in $TLS)
ssl = yes
ssl_cert = <$TLS/server-fullchain.pem
ssl_key = <$TLS/server.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2

# ---- limits sized for load tests (one imap process per connection)
default_process_limit = $MAX_CONN
default_client_limit = $((MAX_CONN * 4))
default_vsz_limit = 512M

# ---- IMAP: $IMAP_PORT (plaintext login + STARTTLS), $IMAPS_PORT (implicit TLS); IDLE is always on
protocol imap {
  imap_idle_notify_interval = 2 mins
  imap_metadata = yes
  mail_max_userip_connections = $MAX_CONN
  $coi_line
}
mailbox_idle_check_interval = 30 secs
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
  # high-performance mode: few login processes, many connections each
  service_count = 0
  process_min_avail = 2
  client_limit = $((MAX_CONN + 256))
}
service imap {
  process_limit = $MAX_CONN
}

# ---- LMTP: Postfix delivers over the unix socket; TCP $LMTP_PORT for direct test injection
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
  postmaster_address = postmaster@$DOMAIN
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    port = $LMTP_PORT
  }
}
lmtp_rcpt_check_quota = no
recipient_delimiter = +

# ---- Sieve (run at LMTP delivery) / ManageSieve on $SIEVE_PORT
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
service managesieve-login {
  inet_listener sieve {
    port = $SIEVE_PORT
  }
}

# ---- SASL for Postfix submission
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
  unix_listener auth-userdb {
    mode = 0660
    user = $VMAIL
    group = $VMAIL
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
    install_if_changed "$DC_CONF.new" "$DC_CONF"
}

write_postfix_conf() {
    mkdir -p "$PF_DIR" "$PF_SPOOL" "$PF_DATA" "$LOGS"
    chown postfix:postfix "$PF_DATA"
    local sender_restr=""
    [ "$STRICT_SENDER" = 1 ] && sender_restr="reject_authenticated_sender_login_mismatch"
    cat >"$PF_DIR/main.cf.new" <<EOF
# Generated by scripts/mailserver.sh - do not edit, edit the script instead.
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop
maillog_file = $LOGS/postfix.log
maillog_file_prefixes = $MAIL_DIR
smtpd_banner = \$myhostname ESMTP coiweb local mail
biff = no
append_dot_mydomain = no
readme_directory = no

# ---- identity: no DNS for our own name
myhostname = $MAILHOST
mydomain = $DOMAIN
myorigin = \$mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# ---- nothing is delivered or relayed outside the local domains
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
relayhost =
relay_domains =
default_transport = error:5.7.1 coiweb local mail: delivery outside the local domains is disabled
relay_transport = error:5.7.1 coiweb local mail: relaying is disabled
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
smtp_tls_security_level = none

# ---- local domains/users (generated from the Dovecot passwd-files), delivered via Dovecot LMTP
virtual_mailbox_domains = hash:$PF_DIR/vdomains
virtual_mailbox_maps = hash:$PF_DIR/vmailbox
virtual_alias_maps = hash:$PF_DIR/valiases
virtual_transport = lmtp:unix:$DC_RUN/lmtp
recipient_delimiter = +
message_size_limit = 52428800
mailbox_size_limit = 0
smtputf8_enable = yes

# ---- SMTP server (port $SMTP_PORT): inbound for local domains only, STARTTLS offered
smtpd_tls_cert_file = $TLS/server-fullchain.pem
smtpd_tls_key_file = $TLS/server.key
smtpd_tls_security_level = may
smtpd_tls_session_cache_database = btree:\${data_directory}/smtpd_scache
smtpd_tls_loglevel = 0
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DC_RUN/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_sender_login_maps = hash:$PF_DIR/vmailbox

# ---- quick retries (a local test server)
queue_run_delay = 30s
minimal_backoff_time = 30s
maximal_backoff_time = 120s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
EOF

    cat >"$PF_DIR/master.cf.new" <<EOF
# Generated by scripts/mailserver.sh - do not edit, edit the script instead.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$SMTP_PORT      inet  n       -       n       -       -       smtpd
127.0.0.1:$SUBMISSION_PORT      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=$sender_restr
  -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:$SUBMISSIONS_PORT      inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submissions
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=$sender_restr
  -o milter_macro_daemon_name=ORIGINATING
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    install_if_changed "$PF_DIR/main.cf.new" "$PF_DIR/main.cf"
    install_if_changed "$PF_DIR/master.cf.new" "$PF_DIR/master.cf"
}

# what a Postfix reload cannot change: inet_interfaces/inet_protocols and the inet services
listener_sig() {
    { grep -E '^inet_(interfaces|protocols)' "$PF_DIR/main.cf"; grep -E '^[^ #].* inet ' "$PF_DIR/master.cf"; } \
        | md5sum | cut -d' ' -f1
}

# ---------------------------------------------------------------- run state
read_pid() { if [ -r "$1" ]; then tr -dc '0-9' <"$1" 2>/dev/null || true; fi; }
dc_pid() { read_pid "$DC_RUN/master.pid"; }
# The pid file must name a live dovecot process (the state dir survives reboots; pids get reused).
dc_running() {
    local p
    p=$(dc_pid)
    [ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = dovecot ]
}
pf_pid() { read_pid "$PF_SPOOL/pid/master.pid"; }
pf_running() { [ -f "$PF_DIR/main.cf" ] && postfix -c "$PF_DIR" status >/dev/null 2>&1; }

port_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

wait_ports() { # wait_ports up|down SECONDS PORT...
    local want=$1 n=$(($2 * 10)) p pending
    shift 2
    while :; do
        pending=""
        for p in "$@"; do
            if [ "$want" = up ]; then port_listening "$p" || pending+=" $p"; else port_listening "$p" && pending+=" $p"; fi
        done
        [ -z "$pending" ] && return 0
        [ $n -le 0 ] && { echo "$pending"; return 1; }
        sleep 0.1
        n=$((n - 1))
    done
}

check_ports_free() { # refuse to start when another program holds one of our ports
    local p
    for p in "$@"; do
        if port_listening "$p"; then
            ss -Hltnp "sport = :$p" >&2 || true
            die "port $p is already in use by another program (choose other ports with COIWEB_*_PORT)"
        fi
    done
}

# Dovecot uses one inotify instance per IDLE session; past the kernel's limit (often 128
# per user) it silently falls back to checking every 30 s, so IDLE stops being live.
raise_inotify_limit() {
    local want=8192 have
    have=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo "$want")
    if [ "$have" -lt "$want" ]; then
        sysctl -q -w fs.inotify.max_user_instances="$want" >/dev/null 2>&1 \
            && log "raised fs.inotify.max_user_instances from $have to $want (many IDLE sessions)" \
            || log "note: fs.inotify.max_user_instances is $have; Dovecot polls IDLE sessions beyond it"
    fi
    return 0
}

raise_fd_limit() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true; }

# A reload ends every TLS session (imap-login proxies them), so it happens only when the
# config really changed: `up` runs before every test run, maybe beside a demo or a benchmark.
config_sig() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

start_dovecot() {
    if dc_running; then
        if [ "$(config_sig "$DC_CONF")" = "$(cat "$MAIL_DIR/dovecot-config.sig" 2>/dev/null)" ]; then
            log "dovecot already running (pid $(dc_pid)) with this config"
            return 0
        fi
        log "dovecot already running (pid $(dc_pid)), reloading its config"
        doveadm -c "$DC_CONF" reload </dev/null 9>&-
        config_sig "$DC_CONF" >"$MAIL_DIR/dovecot-config.sig"
        return 0
    fi
    config_sig "$DC_CONF" >"$MAIL_DIR/dovecot-config.sig"
    # shellcheck disable=SC2046
    check_ports_free $(dovecot_ports)
    rm -f "$DC_RUN/master.pid"
    log "starting dovecot"
    # fully detached: own session, no inherited stdio (else callers piping our output would hang)
    if ! (raise_fd_limit; setsid dovecot -c "$DC_CONF" </dev/null >>"$LOGS/dovecot-start.log" 2>&1 9>&-); then
        tail -n 20 "$LOGS/dovecot-start.log" "$LOGS/dovecot.log" >&2 2>/dev/null || true
        die "dovecot failed to start"
    fi
}

stop_dovecot() {
    dc_running || return 0
    local p n=100
    p=$(dc_pid)
    log "stopping dovecot (pid $p)"
    doveadm -c "$DC_CONF" stop </dev/null >/dev/null 2>&1 || kill "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    kill -0 "$p" 2>/dev/null && { log "dovecot did not stop in 10 s, killing it"; kill -9 "$p" 2>/dev/null || true; }
    # shellcheck disable=SC2046
    wait_ports down 10 $(dovecot_ports) >/dev/null || log "WARNING: dovecot ports still open"
}

start_postfix() {
    if pf_running && [ "$(listener_sig)" != "$(cat "$MAIL_DIR/postfix-listeners.sig" 2>/dev/null)" ]; then
        log "postfix listeners changed, restarting postfix"
        stop_postfix
    fi
    listener_sig >"$MAIL_DIR/postfix-listeners.sig"
    if pf_running; then
        if [ "$(config_sig "$PF_DIR/main.cf" "$PF_DIR/master.cf")" = "$(cat "$MAIL_DIR/postfix-config.sig" 2>/dev/null)" ]; then
            log "postfix already running (pid $(pf_pid)) with this config"
            return 0
        fi
        log "postfix already running (pid $(pf_pid)), reloading its config"
        postfix -c "$PF_DIR" reload </dev/null >/dev/null 2>&1 9>&-
        config_sig "$PF_DIR/main.cf" "$PF_DIR/master.cf" >"$MAIL_DIR/postfix-config.sig"
        return 0
    fi
    config_sig "$PF_DIR/main.cf" "$PF_DIR/master.cf" >"$MAIL_DIR/postfix-config.sig"
    # shellcheck disable=SC2046
    check_ports_free $(postfix_ports)
    log "starting postfix"
    postfix -c "$PF_DIR" set-permissions </dev/null >/dev/null 2>&1 || true
    if ! (raise_fd_limit
          postfix -c "$PF_DIR" check && setsid postfix -c "$PF_DIR" start) </dev/null >>"$LOGS/postfix-start.log" 2>&1 9>&-; then
        tail -n 20 "$LOGS/postfix-start.log" "$LOGS/postfix.log" >&2 2>/dev/null || true
        die "postfix failed to start"
    fi
}

stop_postfix() {
    pf_running || return 0
    local n=100
    log "stopping postfix (pid $(pf_pid))"
    postfix -c "$PF_DIR" stop </dev/null >/dev/null 2>&1 || true
    while pf_running && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
    # shellcheck disable=SC2046
    wait_ports down 10 $(postfix_ports) >/dev/null || log "WARNING: postfix ports still open"
}

require_config() { if [ ! -f "$DC_CONF" ] || [ ! -f "$PF_DIR/main.cf" ]; then die "not set up yet (run: $0 up)"; fi; }

# ---------------------------------------------------------------- commands
cmd_up() {
    need_root
    take_lock
    install_packages
    ensure_vmail_user
    raise_inotify_limit
    chmod 755 "$MAIL_DIR"
    save_settings
    make_certs
    ensure_passwd_dir
    write_dovecot_conf
    write_postfix_conf
    rebuild_postfix_maps
    doveconf -c "$DC_CONF" -n >/dev/null || die "generated dovecot config is invalid: $DC_CONF"
    start_dovecot
    start_postfix
    local missing
    # shellcheck disable=SC2046
    missing=$(wait_ports up 15 $(all_ports)) || die "nothing listening on 127.0.0.1 port(s)$missing (logs in $LOGS)"
    log "up: IMAP $IMAP_PORT, IMAPS $IMAPS_PORT, submission $SUBMISSION_PORT, submissions $SUBMISSIONS_PORT, SMTP $SMTP_PORT, LMTP $LMTP_PORT, ManageSieve $SIEVE_PORT on 127.0.0.1"
    log "CA: $TLS/ca.pem  users: $(list_users | wc -l)  logs: $LOGS  state: $MAIL_DIR"
}

cmd_down() {
    need_root
    take_lock
    stop_postfix
    stop_dovecot
    log "stopped (users and mail kept in $MAIL_DIR)"
}

cmd_status() {
    local rc=0
    if dc_running; then echo "dovecot: running (pid $(dc_pid))"; else echo "dovecot: stopped"; rc=3; fi
    if pf_running; then echo "postfix: running (pid $(pf_pid))"; else echo "postfix: stopped"; rc=3; fi
    echo "state dir: $MAIL_DIR"
    echo "listening:"
    ss -Hltn 2>/dev/null | awk -v ports=" $(all_ports) " \
        '{n = split($4, a, ":"); if (index(ports, " " a[n] " ")) print "  " $4}' | sort -u
    echo "users: $(list_users | wc -l)"
    if dc_running; then echo "imap sessions: $(doveadm -c "$DC_CONF" who -1 2>/dev/null | tail -n +2 | wc -l)"; fi
    if pf_running; then echo "mail queue: $(postqueue -c "$PF_DIR" -p 2>/dev/null | tail -n 1)"; fi
    return $rc
}

cmd_postfix_stop() { need_root; take_lock; require_config; stop_postfix; }
cmd_postfix_start() {
    need_root
    take_lock
    require_config
    start_postfix
    local missing
    # shellcheck disable=SC2046
    missing=$(wait_ports up 15 $(postfix_ports)) || die "postfix not listening on port(s)$missing"
}
cmd_dovecot_restart() {
    need_root
    take_lock
    require_config
    stop_dovecot
    start_dovecot
    local missing
    # shellcheck disable=SC2046
    missing=$(wait_ports up 15 $(dovecot_ports)) || die "dovecot not listening on port(s)$missing"
}

cmd_env() {
    cat <<EOF
COIWEB_MAIL_DIR=$MAIL_DIR
COIWEB_MAIL_HOST=127.0.0.1
COIWEB_MAIL_DOMAIN=$DOMAIN
COIWEB_IMAP_PORT=$IMAP_PORT
COIWEB_IMAPS_PORT=$IMAPS_PORT
COIWEB_SUBMISSION_PORT=$SUBMISSION_PORT
COIWEB_SUBMISSIONS_PORT=$SUBMISSIONS_PORT
COIWEB_SMTP_PORT=$SMTP_PORT
COIWEB_LMTP_PORT=$LMTP_PORT
COIWEB_MAIL_CA=$TLS/ca.pem
EOF
}

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

CMD=${1:-}
[ $# -gt 0 ] && shift
case "$CMD" in
    up) cmd_up ;;
    down) cmd_down ;;
    restart) cmd_down; cmd_up ;;
    status) cmd_status ;;
    adduser) cmd_adduser "$@" ;;
    adduser-coi) cmd_adduser_coi "$@" ;;
    addusers) cmd_addusers "$@" ;;
    deluser) cmd_deluser "$@" ;;
    users) cmd_users ;;
    postfix-stop) cmd_postfix_stop ;;
    postfix-start) cmd_postfix_start ;;
    dovecot-restart) cmd_dovecot_restart ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
