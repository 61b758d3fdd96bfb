//! End-to-end tests: `stsscan scan` against lab worlds, graded against the ground truth.

mod scan;
