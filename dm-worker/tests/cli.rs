//! The `dm-worker` binary's command line as operators use it: DM-worker's
//! flags (exit code 2 on bad flags or a failed join, DM's texts), and the
//! `run` / `demo` subcommands still reachable.

use std::net::TcpListener;
use std::process::Command;

const WORKER: &str = env!("CARGO_BIN_EXE_dm-worker");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(WORKER).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_flags_exit_2_with_dm_texts() {
    let (code, _, err) = run(&["-worker-addr", "0.0.0.0:8262", "-join", "127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("parse cmd flags err: [code=40069:class=dm-worker:scope=internal:level=high], Message: worker-addr (0.0.0.0:8262) must include the 'host' part"),
        "{err}"
    );
    let (code, _, err) = run(&["--nmae", "w"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("[code=40001:"), "{err}");
    assert!(
        err.contains("flag provided but not defined: -nmae"),
        "{err}"
    );

    let dir = std::env::temp_dir().join(format!("dm-worker-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("worker.toml");
    std::fs::write(
        &file,
        "worker-addr = \"127.0.0.1:8262\"\nsource-id = \"x\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--config", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, Some(2));
    assert!(
        err.contains("worker config contains unknown configuration options: source-id"),
        "{err}"
    );
}

#[test]
fn version_sample_config_and_subcommands() {
    let (code, out, _) = run(&["-V"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("Release Version: v"), "{out}");
    assert!(
        out.contains("\nGit Commit Hash: "),
        "DM's whole version text: {out}"
    );
    let (code, out, _) = run(&["--print-sample-config"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("worker-addr = \":8262\""), "{out}");
    let (code, out, _) = run(&["run", "--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--scenario"), "{out}");
}

#[test]
fn unreachable_masters_exit_2_after_every_round() {
    let join = format!("127.0.0.1:{}", closed_port());
    let worker_addr = format!("127.0.0.1:{}", closed_port());
    let (code, _, err) = run(&[
        "--name",
        "w1",
        "--worker-addr",
        &worker_addr,
        "--join",
        &join,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("[code=40077:class=dm-worker:scope=internal:level=high], Message: cannot join with master endpoints: [http://{join}], error: context deadline exceeded")),
        "{err}"
    );
}
