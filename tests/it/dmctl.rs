//! `dmctl` as a process, run the way an operator runs it against
//! `--master-addr` (one address or a comma-separated list).

use std::process::{Command, Stdio};

pub const DMCTL: &str = env!("CARGO_BIN_EXE_dmctl");

/// Runs `dmctl --master-addr addrs args` to the end: whether it succeeded,
/// its stdout and its stderr.
fn dmctl(addrs: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(DMCTL)
        .arg("--master-addr")
        .arg(addrs)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run dmctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`dmctl`] on a blocking thread, so that the masters of the same test
/// keep running on the runtime meanwhile.
pub async fn dmctl_async(addrs: &str, args: &[&str]) -> (bool, String, String) {
    let addrs = addrs.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dmctl(&addrs, &args)
    })
    .await
    .expect("dmctl thread")
}

/// [`dmctl_async`] with stdout and stderr as one text, for checks that do
/// not care where a line went.
pub async fn dmctl_text(addrs: &str, args: &[&str]) -> (bool, String) {
    let (ok, stdout, stderr) = dmctl_async(addrs, args).await;
    (ok, stdout + &stderr)
}
