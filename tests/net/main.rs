//! Integration tests of the network layer (DNS client, TLS capture, policy fetch, SMTP probe)
//! against servers on loopback.

mod dns;
mod fetch;
mod smtp;
