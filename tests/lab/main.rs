//! Integration tests of the lab: its servers speak the real protocols (checked with our own
//! clients and with dig/kdig, curl and openssl where installed) and its worlds are consistent.

mod servers;
mod worlds;
