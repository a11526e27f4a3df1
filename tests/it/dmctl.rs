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

/// A master cut off from etcd refuses every request with DM's 38043. Given
/// first in `--master-addr`, dmctl passes over it to the next master; when
/// no master can answer, the command fails with DM's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmctl_passes_over_a_master_that_cannot_answer_for_the_cluster() {
    use crate::cluster::MasterProcess;
    use crate::master::TestMaster;
    use crate::support::{free_port, unique_space, wait_until};
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(20);
    const NOT_LEADER: &str = "[code=38043:class=dm-master:scope=internal:level=high], Message: master is not leader, and can't forward request to leader";
    let master = TestMaster::builder(&unique_space("ctl-pass-over"))
        .name("m1")
        .lead(WAIT)
        .await;
    let healthy = master.local_addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let cut_off = format!("127.0.0.1:{}", free_port());
    let no_etcd = format!("http://127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    let _cut_off_master = MasterProcess::spawn(
        &cut_off,
        &[
            "--etcd-endpoints",
            &no_etcd,
            "--name",
            "cut-off",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &dir.path().join("cut-off.log"),
    );
    let last = std::sync::Mutex::new(String::new());
    let refuses = wait_until(WAIT, || async {
        let (ok, _, err) = dmctl_async(&cut_off, &["list-member", "--leader"]).await;
        *last.lock().unwrap() = err.clone();
        !ok && err.contains(NOT_LEADER)
    })
    .await;
    assert!(
        refuses,
        "the cut-off master refuses: {}",
        last.lock().unwrap()
    );

    for addrs in [
        format!("{cut_off},{healthy}"),
        format!("{healthy},{cut_off}"),
    ] {
        let (ok, out, err) = dmctl_async(&addrs, &["list-member", "--leader"]).await;
        assert!(ok, "dmctl --master-addr {addrs}: {err}");
        let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(listed["members"][0]["leader"]["name"], "m1", "{out}");
    }

    let (ok, _, err) = dmctl_async(&format!("{cut_off},{cut_off}"), &["query-status"]).await;
    assert!(!ok);
    assert!(err.contains(NOT_LEADER), "{err}");
    master.stop().await;
}
