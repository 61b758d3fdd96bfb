#!/usr/bin/env bash
# Installs the MTAs of the interop test (tests/interop) on Debian 12, idempotently.
#
# Debian's postfix, exim4-daemon-light and opensmtpd packages all provide
# mail-transport-agent and conflict, so Postfix is installed as a package (preseeded to "No
# configuration": it is never started as a system service) and the other MTAs' binaries are
# unpacked with `apt-get download` + `dpkg -x` under /opt/stsscan-interop/<mta>, with their
# shared libraries and system users installed separately. The tests start every MTA
# themselves, in the foreground, with their own configuration.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
dest=/opt/stsscan-interop

if ! command -v postfix >/dev/null 2>&1 && [ ! -x /usr/sbin/postfix ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi

# unpack PACKAGE DIR: the package's files under DIR (once).
unpack() {
  local pkg=$1 dir=$2 tmp
  [ -f "$dir/.unpacked" ] && return 0
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  mkdir -p "$dir"
  dpkg -x "$tmp"/*.deb "$dir"
  rm -rf "$tmp"
  touch "$dir/.unpacked"
}

# Exim 4: the daemon binary and the libraries it links.
if [ ! -x /usr/sbin/exim4 ]; then
  apt-get install -y -qq --no-install-recommends libdb5.3 libgnutls-dane0 libgnutls30 \
    libidn12 libidn2-0 libnsl2 libpcre2-8-0 libcrypt1 >/dev/null
  unpack exim4-daemon-light "$dest/exim"
fi
getent group Debian-exim >/dev/null || groupadd --system Debian-exim
getent passwd Debian-exim >/dev/null ||
  useradd --system --gid Debian-exim --home-dir /var/spool/exim4 --no-create-home \
    --shell /usr/sbin/nologin Debian-exim
# OpenSMTPD: the daemon binary, its libraries and its two users.
if [ ! -x /usr/sbin/smtpd ]; then
  apt-get install -y -qq --no-install-recommends libevent-2.1-7 libssl3 libpam0g zlib1g \
    libdb5.3 libcrypt1 >/dev/null
  unpack opensmtpd "$dest/opensmtpd"
fi
for u in opensmtpd opensmtpq; do
  getent group "$u" >/dev/null || groupadd --system "$u"
  getent passwd "$u" >/dev/null ||
    useradd --system --gid "$u" --home-dir /var/lib/opensmtpd/empty --no-create-home \
      --shell /usr/sbin/nologin "$u"
done
mkdir -p /var/lib/opensmtpd/empty

echo "interop MTAs: $(postconf -h mail_version 2>/dev/null | sed 's/^/postfix /');" \
  "$("${EXIM:-$( [ -x /usr/sbin/exim4 ] && echo /usr/sbin/exim4 || echo "$dest/exim/usr/sbin/exim4")}" -bV 2>/dev/null | head -1)"
