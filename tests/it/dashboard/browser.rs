//! The lock page in a real headless Chromium, driven over the DevTools
//! protocol: a blocking source shows live. Skipped where no Chromium is
//! installed.

use super::*;

/// Chromium's binary: `$CHROMIUM_BIN`, or `chromium` / `chromium-browser` /
/// `google-chrome` on PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(bin) = std::env::var_os("CHROMIUM_BIN") {
        return Some(bin.into());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A headless Chromium on a free DevTools port, killed by PID on drop.
struct Browser {
    child: std::process::Child,
    _profile: tempfile::TempDir,
    devtools_port: u16,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    async fn open(bin: &std::path::Path, url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=900,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Chromium writes the port it chose into the profile directory.
        let port_file = profile.path().join("DevToolsActivePort");
        let written = wait_until(Duration::from_secs(30), || async {
            std::fs::read_to_string(&port_file).is_ok_and(|t| t.lines().count() >= 2)
        })
        .await;
        assert!(written, "chromium started its DevTools endpoint");
        let devtools_port = std::fs::read_to_string(&port_file)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Browser {
            child,
            _profile: profile,
            devtools_port,
        }
    }

    /// A DevTools session on the page showing `url`.
    async fn page(&self, url: &str) -> Cdp {
        let addr: std::net::SocketAddr =
            format!("127.0.0.1:{}", self.devtools_port).parse().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let ws_url = loop {
            let text = http_get(addr, "/json/list").await;
            let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
            let targets: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let found = targets.as_array().and_then(|t| {
                t.iter()
                    .find(|t| t["type"] == "page" && t["url"] == url)
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if let Some(found) = found {
                break found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromium lists the page {url}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        Cdp { socket, next_id: 0 }
    }
}

/// A minimal Chrome DevTools protocol client: one command at a time.
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Cdp {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        use futures_util::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let request = serde_json::json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                request.to_string(),
            ))
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("chromium answers")
                .expect("socket open")
                .unwrap();
            let Ok(text) = message.to_text() else {
                continue;
            };
            let reply: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if reply["id"] == id {
                return reply;
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let reply = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        reply["result"]["result"]["value"].clone()
    }

    /// Waits until `expression` is `true` in the page.
    async fn wait_for(&mut self, expression: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.eval(expression).await == Value::Bool(true) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_lock_page_shows_a_blocking_source_live_in_a_real_browser() {
    let Some(bin) = chromium() else {
        eprintln!(
            "SKIPPED: chromium not found (run scripts/install-deps, or set CHROMIUM_BIN); \
             the lock page's browser test did not run"
        );
        return;
    };
    let sources = ["mysql-01", "mysql-02"];
    let (master, etcd, space) = start_master("page", &sources).await;
    let addr = master.local_addr;
    let w1 = worker(&etcd, &space, "mysql-01");
    let r1 = report(&w1).await;

    // A registered worker with its keep-alive: listed as free.
    let mut client = MasterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let registered =
        crate::scheduler::register_worker(&mut client, "worker-1", "127.0.0.1:8262").await;
    assert!(registered.result, "{}", registered.msg);
    let lease = etcd.lease_grant(60).await.unwrap();
    etcd.txn(Txn::new("keep-alive").then([Op::put_with_lease(
        space.key(&WORKER_KEEP_ALIVE, ["worker-1"]),
        r#"{"worker-name":"worker-1","join-time":"2026-01-01T10:00:00+08:00"}"#,
        lease,
    )]))
    .await
    .unwrap();

    let url = format!("http://{addr}/dashboard/locks");
    let browser = Browser::open(&bin, &url).await;
    let mut page = browser.page(&url).await;
    let lock = r#"document.querySelector('[data-lock-id="test-`shard_db`.`shard_table`"]')"#;
    let blocking = format!(
        r#"(() => {{ const l = {lock}; return !!l && !!l.querySelector('.unsynced .source.blocking[data-source="mysql-02"]') && l.querySelector('.meta b').textContent === "test"; }})()"#
    );
    assert!(
        page.wait_for(&blocking, Duration::from_secs(20)).await,
        "the page shows the lock with mysql-02 blocking: {}",
        page.eval("document.body.innerText").await
    );
    assert_eq!(
        page.eval(&format!("{lock}.querySelector('.ddl').textContent"))
            .await,
        Value::String(DDL.into())
    );
    assert!(
        page.wait_for(
            r#"(() => { const w = document.querySelector('tr.worker[data-worker="worker-1"]'); return !!w && w.textContent.includes("free"); })()"#,
            Duration::from_secs(20)
        )
        .await,
        "the page lists the worker: {}",
        page.eval("document.body.innerText").await
    );
    // The unlock preview button shows what the unlock would write.
    page.eval(&format!("{lock}.querySelector('.preview-button').click()"))
        .await;
    assert!(
        page.wait_for(
            &format!("!!{lock}.querySelector('.preview li[data-source=\"mysql-01\"][data-action=\"exec\"]')"),
            Duration::from_secs(10)
        )
        .await,
        "the preview is shown"
    );
    let shot = page
        .call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        )
        .await;
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        shot["result"]["data"].as_str().expect("a screenshot"),
    )
    .unwrap();
    let artifact =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-locks.png");
    std::fs::write(&artifact, &png).unwrap();

    // On a phone-sized screen nothing is wider than the screen.
    page.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true }),
    )
    .await;
    assert!(
        page.wait_for(
            "window.innerWidth === 390 && document.documentElement.scrollWidth <= 390",
            Duration::from_secs(10)
        )
        .await,
        "the page fits a phone: scroll width {}",
        page.eval("document.documentElement.scrollWidth").await
    );

    // The lock resolves: the row goes away without a reload.
    let marker = page
        .eval("window.__sameDocument = true; window.__sameDocument")
        .await;
    assert_eq!(marker, Value::Bool(true));
    let w2 = worker(&etcd, &space, "mysql-02");
    let r2 = report(&w2).await;
    let (o1, o2) = (answer(w1, r1), answer(w2, r2));
    o1.await.unwrap();
    o2.await.unwrap();
    assert!(
        page.wait_for(
            &format!("{lock} === null && !!document.getElementById('no-locks') && window.__sameDocument === true"),
            Duration::from_secs(20)
        )
        .await,
        "the lock disappears from the same page: {}",
        page.eval("document.body.innerText").await
    );
    drop(page);
    drop(browser);
    master.stop().await;
}
