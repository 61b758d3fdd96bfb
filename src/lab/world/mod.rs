//! Placeholder: the lab worlds are being written.
