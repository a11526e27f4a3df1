//! TLS on the master port (DM's `ssl-ca`, `ssl-cert`, `ssl-key`,
//! `cert-allowed-cn`): gRPC and HTTP terminate on one TLS listener; with
//! `cert-allowed-cn` a client without a certificate, or with a CN not
//! listed, is refused, and an allowed one is served. Certificates are made
//! at run time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dm_master::proto::master_client::MasterClient;
use dm_master::proto::ShowDdlLocksRequest;
use dm_master::tls::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::master::TestMaster;
use crate::support::unique_space;

/// A test CA that issues leaf certificates into a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "dm-test-ca");
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        Pki {
            issuer: Issuer::new(params, key),
            dir,
            ca,
        }
    }

    /// A certificate for `cn`, valid for 127.0.0.1 and localhost.
    fn issue(&self, cn: &str) -> TlsFiles {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.path().join(format!("{cn}.pem"));
        let key_path = self.dir.path().join(format!("{cn}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        TlsFiles {
            ca: self.ca.clone(),
            cert: cert_path,
            key: key_path,
            allowed_cn: Vec::new(),
        }
    }
}

/// An HTTPS GET with `config`; the response text, or the error.
async fn https_get(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> Result<String, std::io::Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector.connect(name, tcp).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("timed out"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn http1(files: &TlsFiles) -> Arc<rustls::ClientConfig> {
    let mut config = (*files.client_config().unwrap()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client that trusts the CA but presents no certificate.
fn anonymous(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// ShowDDLLocks over gRPC to the master at `addr`, as the client `who`.
async fn show_locks_as(
    addr: std::net::SocketAddr,
    who: &TlsFiles,
) -> Result<tonic::Response<dm_master::proto::ShowDdlLocksResponse>, tonic::Status> {
    let channel =
        dm_master::tls::grpc_channel(&addr.to_string(), Some(who), Duration::from_secs(3)).unwrap();
    MasterClient::new(channel)
        .show_ddl_locks(ShowDdlLocksRequest::default())
        .await
}

#[tokio::test]
async fn with_cert_allowed_cn_only_listed_clients_get_in() {
    let pki = Pki::new();
    let tls = TlsFiles {
        allowed_cn: vec!["dm-client".into()],
        ..pki.issue("dm-master")
    };
    let master = TestMaster::builder(&unique_space("tls"))
        .name("tls")
        .configure(|config| config.tls = Some(tls))
        .lead(Duration::from_secs(10))
        .await;
    let addr = master.local_addr;

    // The allowed client: gRPC and HTTP both work over TLS.
    let allowed = pki.issue("dm-client");
    let locks = show_locks_as(addr, &allowed).await.unwrap().into_inner();
    assert!(locks.result, "{}", locks.msg);
    let status = https_get(addr, http1(&allowed), "/status").await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(status.contains("Release Version: v"), "{status}");

    // A CN that is not listed: refused on both protocols.
    let intruder = pki.issue("intruder");
    let refused = show_locks_as(addr, &intruder).await;
    assert!(refused.is_err(), "{refused:?}");
    let refused = https_get(addr, http1(&intruder), "/status").await;
    assert!(
        !matches!(&refused, Ok(text) if text.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );

    // No client certificate: refused.
    let refused = https_get(addr, anonymous(&pki.ca), "/status").await;
    assert!(
        !matches!(&refused, Ok(text) if text.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );

    // Plain HTTP on the TLS port: no answer.
    let plain = crate::grpc::http_get(addr, "/status").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");

    // A server whose CN the client does not allow is refused by the client.
    let picky = TlsFiles {
        allowed_cn: vec!["someone-else".into()],
        ..allowed.clone()
    };
    assert!(show_locks_as(addr, &picky).await.is_err());
    master.stop().await;
}

#[tokio::test]
async fn without_cert_allowed_cn_clients_need_no_certificate() {
    let pki = Pki::new();
    let tls = pki.issue("dm-master");
    let master = TestMaster::builder(&unique_space("tls2"))
        .name("tls2")
        .configure(|config| config.tls = Some(tls))
        .start()
        .await;
    let addr = master.local_addr;
    let status = https_get(addr, anonymous(&pki.ca), "/status")
        .await
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    master.stop().await;
}

/// This master's role from `GET /role` over TLS as the client `who`
/// ("down" when it does not answer).
async fn role_over_tls(addr: &str, who: &TlsFiles) -> String {
    let text = https_get(addr.parse().unwrap(), http1(who), "/role")
        .await
        .unwrap_or_default();
    ["leader", "follower", "starting"]
        .into_iter()
        .find(|r| text.contains(&format!("\"role\":\"{r}\"")))
        .unwrap_or("down")
        .to_string()
}

/// The index of the one leader among `addrs` once the others follow.
async fn settled_leader_over_tls(addrs: &[&str], who: &TlsFiles) -> Option<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut roles = Vec::new();
        for addr in addrs {
            roles.push(role_over_tls(addr, who).await);
        }
        if let Some(leader) = crate::cluster::one_leader(&roles) {
            return Some(leader);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `etcdctl` (API v3) on a blocking thread: whether it succeeded, and
/// its stdout and stderr.
async fn etcdctl(endpoint: &str, tls: Option<&TlsFiles>, args: &[&str]) -> (bool, String) {
    let mut command = std::process::Command::new("etcdctl");
    command
        .arg(format!("--endpoints={endpoint}"))
        .args(["--dial-timeout=3s", "--command-timeout=5s"])
        .args(args)
        .env("ETCDCTL_API", "3");
    if let Some(tls) = tls {
        command
            .arg(format!("--cacert={}", tls.ca.display()))
            .arg(format!("--cert={}", tls.cert.display()))
            .arg(format!("--key={}", tls.key.display()));
    }
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("etcdctl (Debian package etcd-client) is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `dmctl list-member` with the TLS flags through `addr`: its JSON.
async fn list_member_over_tls(addr: &str, who: &TlsFiles) -> serde_json::Value {
    let (ok, out) = dmctl_over_tls(addr, who, &["list-member"]).await;
    assert!(ok, "dmctl list-member over TLS: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Names of the masters in a `list-member` answer with whether each is
/// alive and its peer URLs, sorted; and the leader's name.
fn masters_and_leader(members: &serde_json::Value) -> (Vec<(String, bool, String)>, String) {
    let mut masters = Vec::new();
    let mut leader = String::new();
    for group in members["members"].as_array().unwrap() {
        if let Some(l) = group.get("leader") {
            leader = l["name"].as_str().unwrap_or_default().to_string();
        }
        if let Some(m) = group.get("master") {
            for master in m["masters"].as_array().unwrap() {
                masters.push((
                    master["name"].as_str().unwrap().to_string(),
                    master["alive"].as_bool().unwrap_or(false),
                    master["peerURLs"][0]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
        }
    }
    masters.sort();
    (masters, leader)
}

/// Three `dm-master` processes with DM's `ssl-*` keys and `cert-allowed-cn`
/// form their own etcd cluster over TLS peer URLs (each member asks its
/// peers for a certificate with the allowed CN), elect a leader, and serve
/// dmctl and etcd's API on their TLS master addresses; a client without
/// TLS gets nothing. A fourth joins through the TLS master addresses; when
/// the leader is killed the others elect another over the same TLS peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_masters_with_tls_form_one_cluster_over_tls_peers() {
    use crate::cluster::{distinct_ports, MasterProcess};

    let pki = Pki::new();
    let files = TlsFiles {
        allowed_cn: vec!["dm".into()],
        ..pki.issue("dm")
    };
    let root = tempfile::tempdir().unwrap();
    let ports = distinct_ports(8);
    let names = ["master1", "master2", "master3", "master4"];
    let addrs: Vec<String> = (0..4)
        .map(|i| format!("127.0.0.1:{}", ports[2 * i]))
        .collect();
    let peers: Vec<String> = (0..4)
        .map(|i| format!("https://127.0.0.1:{}", ports[2 * i + 1]))
        .collect();
    let initial_cluster = (0..3)
        .map(|i| format!("{}={}", names[i], peers[i]))
        .collect::<Vec<_>>()
        .join(",");
    let config_of = |i: usize, cluster_key: &str| {
        let config = root.path().join(format!("{}.toml", names[i]));
        std::fs::write(
            &config,
            format!(
                "name = \"{name}\"\nmaster-addr = \"{addr}\"\nadvertise-addr = \"{addr}\"\n\
                 data-dir = \"{data}\"\npeer-urls = \"{peer}\"\nadvertise-peer-urls = \"{peer}\"\n\
                 {cluster_key}\n\
                 ssl-ca = \"{ca}\"\nssl-cert = \"{cert}\"\nssl-key = \"{key}\"\ncert-allowed-cn = [\"dm\"]\n",
                name = names[i],
                addr = addrs[i],
                data = root.path().join(names[i]).display(),
                peer = peers[i],
                ca = files.ca.display(),
                cert = files.cert.display(),
                key = files.key.display(),
            ),
        )
        .unwrap();
        let config = config.display().to_string();
        MasterProcess::spawn(
            &addrs[i],
            &["--config", &config, "--election-ttl", "2"],
            &root.path().join(format!("{}.log", names[i])),
        )
    };
    let mut masters: Vec<Option<MasterProcess>> = (0..3)
        .map(|i| {
            Some(config_of(
                i,
                &format!("initial-cluster = \"{initial_cluster}\""),
            ))
        })
        .collect();
    let logs = |masters: &[Option<MasterProcess>]| {
        masters
            .iter()
            .flatten()
            .map(|m| m.log())
            .collect::<String>()
    };

    let all: Vec<&str> = addrs[..3].iter().map(String::as_str).collect();
    let Some(leader) = settled_leader_over_tls(&all, &files).await else {
        panic!(
            "one leader among three TLS masters; logs:\n{}",
            logs(&masters)
        );
    };
    let follower = (leader + 1) % 3;

    // dmctl with DM's TLS flags, through a follower: three live masters
    // with TLS peer URLs, and the leader.
    let members = list_member_over_tls(&addrs[follower], &files).await;
    let (listed, listed_leader) = masters_and_leader(&members);
    let expected: Vec<(String, bool, String)> = (0..3)
        .map(|i| (names[i].to_string(), true, peers[i].clone()))
        .collect();
    assert_eq!(listed, expected, "{members}");
    assert_eq!(listed_leader, names[leader], "{members}");

    // etcd's API on a TLS master address: a key written through one master
    // is read through another; the member list names the TLS peer URLs.
    let (ok, out) = etcdctl(
        &format!("https://{}", addrs[follower]),
        Some(&files),
        &["put", "/tls-probe", "over-tls"],
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = etcdctl(
        &format!("https://{}", addrs[leader]),
        Some(&files),
        &["get", "/tls-probe", "--print-value-only"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "over-tls");
    let (ok, out) = etcdctl(
        &format!("https://{}", addrs[leader]),
        Some(&files),
        &["member", "list"],
    )
    .await;
    assert!(ok, "{out}");
    for peer in &peers[..3] {
        assert!(out.contains(peer.as_str()), "{peer} in {out}");
    }

    // Without TLS, or with TLS but no certificate, nothing is served.
    let (ok, out) = etcdctl(
        &format!("http://{}", addrs[leader]),
        None,
        &["get", "/tls-probe"],
    )
    .await;
    assert!(!ok, "plain text got an answer: {out}");
    let anonymous_status = https_get(
        addrs[leader].parse().unwrap(),
        anonymous(&pki.ca),
        "/status",
    )
    .await;
    assert!(
        !matches!(&anonymous_status, Ok(text) if text.starts_with("HTTP/1.1 200")),
        "{anonymous_status:?}"
    );

    // A fourth master joins through the TLS master addresses (its member
    // is added with a TLS client, then starts on TLS peer URLs).
    let join = addrs[..3].join(",");
    masters.push(Some(config_of(3, &format!("join = \"{join}\""))));
    let everyone: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let Some(leader) = settled_leader_over_tls(&everyone, &files).await else {
        panic!("the fourth TLS master follows; logs:\n{}", logs(&masters));
    };
    let members = list_member_over_tls(&addrs[3], &files).await;
    let (listed, _) = masters_and_leader(&members);
    let expected: Vec<(String, bool, String)> = (0..4)
        .map(|i| (names[i].to_string(), true, peers[i].clone()))
        .collect();
    assert_eq!(listed, expected, "{members}");

    // The leader dies; the others elect another over the TLS peers, and
    // dmctl through a survivor names it.
    masters[leader].take().unwrap().kill();
    let survivors: Vec<usize> = (0..4).filter(|i| *i != leader).collect();
    let survivor_addrs: Vec<&str> = survivors.iter().map(|i| addrs[*i].as_str()).collect();
    let Some(new_leader) = settled_leader_over_tls(&survivor_addrs, &files).await else {
        panic!("a new leader over TLS; logs:\n{}", logs(&masters));
    };
    let new_leader = survivors[new_leader];
    let members = list_member_over_tls(&addrs[survivors[0]], &files).await;
    let (listed, listed_leader) = masters_and_leader(&members);
    assert_eq!(listed_leader, names[new_leader], "{members}");
    let alive: Vec<bool> = listed.iter().map(|(_, alive, _)| *alive).collect();
    let mut expected_alive = vec![true; 4];
    expected_alive[leader] = false;
    assert_eq!(alive, expected_alive, "{members}");
    let (ok, out) = etcdctl(
        &format!("https://{}", addrs[survivors[1]]),
        Some(&files),
        &["get", "/tls-probe", "--print-value-only"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "over-tls");
}

/// `dmctl --master-addr addr` with DM's `--ssl-*` flags as `who`: whether
/// it succeeded, and its output.
async fn dmctl_over_tls(addr: &str, who: &TlsFiles, args: &[&str]) -> (bool, String) {
    let (ca, cert, key) = (
        who.ca.display().to_string(),
        who.cert.display().to_string(),
        who.key.display().to_string(),
    );
    let mut all = vec!["--ssl-ca", &ca, "--ssl-cert", &cert, "--ssl-key", &key];
    all.extend_from_slice(args);
    crate::dmctl::dmctl_text(addr, &all).await
}

/// A `dm-worker` process with DM's `ssl-*` keys against a TLS master: it
/// registers over TLS, keeps its lease alive through etcd's API on the TLS
/// master address, and serves `pb.Worker` over TLS; the master reaches it
/// over TLS too (DM dials its workers with its own `ssl-*` files), so a
/// created source is bound and answered, a started task's subtask runs,
/// and query-status shows the worker's own report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_worker_joins_a_tls_master_and_answers_it_over_tls() {
    use crate::cluster::{distinct_ports, MasterProcess};
    use crate::dm_cluster::WorkerProcess;
    use serde_json::Value;

    let pki = Pki::new();
    let files = TlsFiles {
        allowed_cn: vec!["dm".into()],
        ..pki.issue("dm")
    };
    let root = tempfile::tempdir().unwrap();
    let ports = distinct_ports(2);
    let addr = format!("127.0.0.1:{}", ports[0]);
    let peer = format!("https://127.0.0.1:{}", ports[1]);
    let tls_keys = format!(
        "ssl-ca = \"{}\"\nssl-cert = \"{}\"\nssl-key = \"{}\"\ncert-allowed-cn = [\"dm\"]\n",
        files.ca.display(),
        files.cert.display(),
        files.key.display(),
    );
    let master_config = root.path().join("master.toml");
    std::fs::write(
        &master_config,
        format!(
            "name = \"m1\"\nmaster-addr = \"{addr}\"\nadvertise-addr = \"{addr}\"\ndata-dir = \"{}\"\n\
             peer-urls = \"{peer}\"\nadvertise-peer-urls = \"{peer}\"\ninitial-cluster = \"m1={peer}\"\n{tls_keys}",
            root.path().join("m1").display(),
        ),
    )
    .unwrap();
    let master_config = master_config.display().to_string();
    let master = MasterProcess::spawn(
        &addr,
        &["--config", &master_config],
        &root.path().join("m1.log"),
    );
    let leads = crate::support::wait_until(Duration::from_secs(60), || async {
        role_over_tls(&addr, &files).await == "leader"
    })
    .await;
    assert!(leads, "the TLS master leads: {}", master.log());

    let worker_config = root.path().join("worker.toml");
    std::fs::write(&worker_config, &tls_keys).unwrap();
    let worker = WorkerProcess::start_with_config("w1", &addr, root.path(), Some(worker_config));
    let worker_state = || async {
        let (_, out) = dmctl_over_tls(&addr, &files, &["list-member", "--worker"]).await;
        serde_json::from_str::<Value>(&out).ok().and_then(|v| {
            let w = &v["members"][0]["worker"]["workers"][0];
            Some((
                w["name"].as_str()?.to_owned(),
                w["stage"].as_str()?.to_owned(),
            ))
        })
    };
    let joined = crate::support::wait_until(Duration::from_secs(30), || async {
        worker_state().await == Some(("w1".to_owned(), "free".to_owned()))
    })
    .await;
    assert!(
        joined,
        "the TLS worker registers and keeps alive: {:?}\nworker log:\n{}\nmaster log:\n{}",
        worker_state().await,
        worker.log(),
        master.log()
    );

    // The master waits for the worker's own QueryStatus answer, over TLS.
    let source = root.path().join("s1.yaml");
    std::fs::write(
        &source,
        "source-id: s1\nflavor: mysql\nserver-id: 101\nenable-gtid: false\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: \"\"\n  port: 3306\n",
    )
    .unwrap();
    let (ok, out) = dmctl_over_tls(
        &addr,
        &files,
        &["operate-source", "create", source.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["result"], true, "{out}");
    assert_eq!(created["sources"][0]["result"], true, "{out}");
    assert_eq!(created["sources"][0]["worker"], "w1", "{out}");

    let task = root.path().join("task.yaml");
    std::fs::write(
        &task,
        "name: t1\ntask-mode: all\nshard-mode: pessimistic\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"\"\nmysql-instances:\n  - source-id: s1\n    block-allow-list: ba\n    route-rules: [r1]\nblock-allow-list:\n  ba:\n    do-dbs: [shard_db]\nroutes:\n  r1:\n    schema-pattern: shard_db\n    table-pattern: t*\n    target-schema: db\n    target-table: tb\n",
    )
    .unwrap();
    let (ok, out) = dmctl_over_tls(&addr, &files, &["start-task", task.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    let started: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(started["result"], true, "{out}");
    assert_eq!(started["sources"][0]["result"], true, "{out}");
    let (ok, out) = dmctl_over_tls(&addr, &files, &["query-status", "t1"]).await;
    assert!(ok, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["sources"][0]["result"], true, "{out}");
    assert_eq!(
        status["sources"][0]["sourceStatus"]["worker"], "w1",
        "{out}"
    );
    assert_eq!(
        status["sources"][0]["subTaskStatus"][0]["stage"], "Running",
        "{out}"
    );
}
