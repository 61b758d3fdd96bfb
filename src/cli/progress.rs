//! Progress on stderr while a scan runs: an indicatif bar on a terminal (domains done, rate,
//! ETA when the total is known, in flight, errors), one status line every few seconds
//! otherwise (logs, cron), nothing with `--quiet`; and the closing summary.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::pipeline::stats::ScanStats;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal, status lines otherwise.
    Auto,
    /// Always status lines.
    Lines,
    /// Nothing.
    Quiet,
}

/// A running progress reporter; [`Reporter::finish`] stops it.
pub struct Reporter {
    task: Option<JoinHandle<()>>,
    bar: Option<ProgressBar>,
    stop: Arc<tokio::sync::Notify>,
}

/// Starts reporting `stats` in `mode`.
pub fn start(stats: Arc<ScanStats>, mode: ProgressMode, label: &str) -> Reporter {
    let stop = Arc::new(tokio::sync::Notify::new());
    let tty = std::io::stderr().is_terminal();
    match (mode, tty) {
        (ProgressMode::Quiet, _) => Reporter {
            task: None,
            bar: None,
            stop,
        },
        (ProgressMode::Auto, true) => {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
            let color = std::env::var_os("NO_COLOR").is_none();
            let tpl = if color {
                "{spinner:.cyan} {prefix} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}"
            } else {
                "{spinner} {prefix} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(tpl) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_owned());
            let b = bar.clone();
            let s = stop.clone();
            let task = tokio::spawn(async move {
                loop {
                    if let Some(t) = stats.total() {
                        b.set_length(t);
                    }
                    b.set_position(stats.done.load(Ordering::Relaxed));
                    b.set_message(format!(
                        "{:.0}/s · {} in flight · {} errors{}",
                        stats.rate(),
                        stats.in_flight.load(Ordering::Relaxed),
                        stats.errors.load(Ordering::Relaxed),
                        eta(&stats)
                            .map(|e| format!(" · ETA {e}"))
                            .unwrap_or_default()
                    ));
                    tokio::select! {
                        () = s.notified() => break,
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
            });
            Reporter {
                task: Some(task),
                bar: Some(bar),
                stop,
            }
        }
        _ => {
            let s = stop.clone();
            let label = label.to_owned();
            let task = tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = s.notified() => break,
                        () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                    errln!("{}", status_line(&label, &stats));
                }
            });
            Reporter {
                task: Some(task),
                bar: None,
                stop,
            }
        }
    }
}

fn eta(stats: &ScanStats) -> Option<String> {
    let total = stats.total()?;
    let done = stats.done.load(Ordering::Relaxed);
    let rate = stats.rate();
    if rate <= 0.0 || done >= total {
        return None;
    }
    let secs = ((total - done) as f64 / rate).round() as u64;
    Some(humantime::format_duration(Duration::from_secs(secs)).to_string())
}

/// One status line: `scan: 12000/20000 domains, 850/s, 300 in flight, 0 errors, ETA 9s`.
pub fn status_line(label: &str, stats: &ScanStats) -> String {
    let done = stats.done.load(Ordering::Relaxed);
    let total = stats.total().map(|t| format!("/{t}")).unwrap_or_default();
    format!(
        "{label}: {done}{total} domains, {:.0}/s, {} in flight, {} errors{}",
        stats.rate(),
        stats.in_flight.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
        eta(stats).map(|e| format!(", ETA {e}")).unwrap_or_default()
    )
}

impl Reporter {
    /// Stops reporting and clears the bar.
    pub async fn finish(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
