//! Conformance tests for the records core, filed by RFC. Each test quotes the RFC sentence it
//! checks. One binary (ripgrep style) so linking happens once.

mod assess;
mod domain;
mod mx;
mod policy;
mod properties_policy;
mod properties_txt;
mod sts_txt;
mod tlsrpt_report;
mod tlsrpt_txt;
