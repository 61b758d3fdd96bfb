//! Placeholder: the lab servers are being written.
