//! The pure parts of the executor: DM's "already applied" list, backoff,
//! URL handling. Execution against a real server is in `tests/it`.

use super::*;

#[test]
fn already_applied_numbers_are_dms_list() {
    for number in [
        1007, 1008, 1050, 1051, 1054, 1060, 1061, 1068, 1091, 1176, 1507, 1517, 1831,
    ] {
        assert!(is_already_applied(number), "{number}");
    }
    // Syntax errors, missing tables on ALTER, access denied: real failures.
    for number in [1064, 1146, 1045, 1049, 1062, 1072] {
        assert!(!is_already_applied(number), "{number}");
    }
}

#[test]
fn backoff_doubles_up_to_the_limit() {
    let options = ExecutorOptions {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(700),
        connect_timeout: Duration::from_secs(1),
    };
    let executor = Executor::new(MySqlConnectOptions::new(), options);
    let mut backoff = executor.backoff();
    // Whole milliseconds: the doubling is done in `f32` seconds.
    let pauses: Vec<u128> = (1..=6)
        .map(|_| (backoff.next_delay().as_secs_f64() * 1e3).round() as u128)
        .collect();
    assert_eq!(pauses, [100, 200, 400, 700, 700, 700]);
    assert!((0..100).all(|_| backoff.next_delay() == Duration::from_millis(700)));
}

#[test]
fn urls_give_the_address_or_a_clear_error() {
    let executor = Executor::from_url("mysql://root@127.0.0.1:3307/db", ExecutorOptions::default())
        .expect("url");
    assert_eq!(executor.address(), "127.0.0.1:3307");
    let err = Executor::from_url("mysql://root@host:notaport/db", ExecutorOptions::default())
        .expect_err("not mysql")
        .to_string();
    assert!(err.contains("reading the downstream URL"), "{err}");
}
