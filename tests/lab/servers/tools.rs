//! Real tools against the lab (filled in below).
