//! Whether this host can reach the internet over the address families a scan asks for
//! (`--ip-version`), checked once before an internet scan starts. A cloud VM without IPv6 is
//! common; scanning with `--ip-version 6|both` there would record every IPv6 address of every
//! MX and policy host as `connect-refused` (the connect fails on this host with "network is
//! unreachable"), a dataset that looks like a finding about the servers and is one about the
//! scanner. Refusing to start says so instead.
//!
//! The check is a route lookup: a UDP socket connected to a documentation address of the
//! family (RFC 5737 `192.0.2.1`, RFC 3849 `2001:db8::1`). `connect` on a UDP socket only
//! picks a route and a source address; nothing is sent. It is skipped with `--allow-private`
//! (the lab, an internal network), where targets need no route to the internet.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::config::{IpVersion, ScanConfig};

/// The address whose route stands for "the internet" in each family: documentation prefixes
/// (RFC 5737, RFC 3849), routed by a default route like any global address, and never a host.
const PROBE_V4: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9);
const PROBE_V6: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    9,
);

/// Whether the kernel has a route to `target`: connects an unbound UDP socket to it (which
/// sends nothing) and reports the error if there is none.
pub fn route_to(target: SocketAddr) -> io::Result<()> {
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(local)?.connect(target)
}

/// Fails, naming `--ip-version` and the family, when this host has no route to the internet
/// over a family the scan asked for.
pub fn check(ip: IpVersion) -> anyhow::Result<()> {
    let (flag, families): (&str, &[(&str, SocketAddr)]) = match ip {
        IpVersion::V4 => ("4", &[("IPv4", PROBE_V4)]),
        IpVersion::V6 => ("6", &[("IPv6", PROBE_V6)]),
        IpVersion::Both => ("both", &[("IPv4", PROBE_V4), ("IPv6", PROBE_V6)]),
    };
    for (family, target) in families {
        if let Err(e) = route_to(*target) {
            let other = if *family == "IPv6" { "4" } else { "6" };
            anyhow::bail!(
                "--ip-version {flag}: this host has no route to the {family} internet ({e}); every {family} address would be recorded as refusing connections. Scan with --ip-version {other}, or from a host with {family} connectivity"
            );
        }
    }
    Ok(())
}

/// [`check`] for an internet scan of `cfg`; nothing with `--allow-private` (the lab, an
/// internal network). Called by `scan`, `check` and `monitor` before anything is written.
pub fn check_scan(cfg: &ScanConfig) -> anyhow::Result<()> {
    if cfg.allow_private {
        return Ok(());
    }
    check(cfg.ip_version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback is always routed: the lookup succeeds and sends nothing anywhere.
    #[test]
    fn a_routed_address_passes() {
        assert!(route_to((Ipv4Addr::LOCALHOST, 9).into()).is_ok());
    }
}
