//! Masters as etcd endpoints and as an etcd cluster: etcd's client API on the
//! master address (with `etcdctl` and the Rust `etcd-client`), and masters
//! forming their own etcd cluster from DM-style configuration files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use dm_master::config::Config;
use etcd_client::{Client, EventType, GetOptions, PutOptions, WatchOptions};

use crate::master::TestMaster;
use crate::support::{put_ddl, unique_space, wait_until, EtcdServer};

mod etcd_api;

use etcd_api::{etcdctl, exercise_with_client, exercise_with_etcdctl};

const MASTER: &str = env!("CARGO_BIN_EXE_dm-master");

/// A Rust etcd client of one master address.
async fn client_of(addr: &str) -> Client {
    Client::connect([format!("http://{addr}")], None)
        .await
        .expect("etcd client of the master address")
}

/// A `dm-master` process started by a test, killed by PID when dropped.
pub struct MasterProcess {
    child: std::process::Child,
    pub addr: String,
    log: std::path::PathBuf,
}

impl MasterProcess {
    /// Starts `dm-master` listening on `addr` with `args`; its log goes to
    /// `log`.
    pub fn spawn(addr: &str, args: &[&str], log: &std::path::Path) -> MasterProcess {
        // The master logs to stdout (DM's default); keep both streams.
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(MASTER)
            .args(["--master-addr", addr])
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn dm-master");
        MasterProcess {
            child,
            addr: addr.to_string(),
            log: log.to_path_buf(),
        }
    }

    pub async fn role(&self) -> String {
        let status = crate::grpc::http_get(self.addr.parse().unwrap(), "/role").await;
        ["leader", "follower", "starting", "unknown"]
            .into_iter()
            .find(|r| status.contains(&format!("\"role\":\"{r}\"")))
            .unwrap_or("down")
            .to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL by PID: no goodbye (its member's guard stops etcd with it).
    /// Only once: after the wait the PID may belong to another process.
    pub fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for MasterProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One master of a test cluster: its addresses and DM-style config file.
struct Node {
    name: String,
    addr: String,
    peer_port: u16,
    data_dir: std::path::PathBuf,
    config: std::path::PathBuf,
}

/// `n` distinct free loopback ports for the listeners of master processes
/// (each held until all are picked, so no port is handed out twice).
///
/// They are taken below the kernel's ephemeral range: a port picked there
/// and released could be given to an outgoing connection (the etcd members
/// dial one another many times while the masters start) before its master
/// binds it, and that master would then fail with "Address already in use".
pub(crate) fn distinct_ports(n: usize) -> Vec<u16> {
    use std::hash::{BuildHasher, Hasher};
    let ephemeral_low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let low = 10_000u16.min(ephemeral_low / 2);
    let span = u64::from(ephemeral_low - low);
    let random = std::collections::hash_map::RandomState::new();
    let mut listeners = Vec::new();
    for attempt in 0u64.. {
        if listeners.len() == n {
            break;
        }
        assert!(
            attempt < 10_000,
            "no {n} free loopback ports below {ephemeral_low}"
        );
        let mut hasher = random.build_hasher();
        hasher.write_u64(attempt);
        let port = low + (hasher.finish() % span) as u16;
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            listeners.push(listener);
        }
    }
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Node {
    fn new(root: &std::path::Path, name: &str) -> Node {
        let ports = distinct_ports(2);
        Node::on_ports(root, name, ports[0], ports[1])
    }

    fn on_ports(root: &std::path::Path, name: &str, port: u16, peer_port: u16) -> Node {
        Node {
            name: name.to_string(),
            addr: format!("127.0.0.1:{port}"),
            peer_port,
            data_dir: root.join(name),
            config: root.join(format!("{name}.toml")),
        }
    }

    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// Writes a DM-style `dm-master.toml` (DM's keys and forms: scheme-less
    /// peer URL as tiup writes it) with `cluster_keys` appended.
    fn write_config(&self, cluster_keys: &str) {
        let text = format!(
            "# DM-master configuration\nname = \"{name}\"\nlog-level = \"info\"\nmaster-addr = \"{addr}\"\nadvertise-addr = \"{addr}\"\ndata-dir = \"{data}\"\npeer-urls = \"127.0.0.1:{peer}\"\nadvertise-peer-urls = \"http://127.0.0.1:{peer}\"\n{cluster_keys}",
            name = self.name,
            addr = self.addr,
            data = self.data_dir.display(),
            peer = self.peer_port,
        );
        std::fs::write(&self.config, text).unwrap();
    }

    fn start(&self) -> MasterProcess {
        let config = self.config.display().to_string();
        MasterProcess::spawn(
            &self.addr,
            &["--config", &config, "--election-ttl", "2"],
            &self.data_dir.with_extension("log"),
        )
    }
}

/// etcd's member list, asked through the master at `addr`.
async fn member_list(addr: &str) -> Vec<etcd_client::Member> {
    client_of(addr)
        .await
        .member_list()
        .await
        .unwrap()
        .members()
        .to_vec()
}

/// The member list as `(name, peer URLs, client URLs)`, sorted by name.
async fn members_via(addr: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut members: Vec<_> = member_list(addr)
        .await
        .iter()
        .map(|m| {
            (
                m.name().to_string(),
                m.peer_urls().to_vec(),
                m.client_urls().to_vec(),
            )
        })
        .collect();
    members.sort();
    members
}

#[tokio::test]
async fn a_master_from_a_dm_style_config_serves_its_own_etcd_on_the_master_address() {
    let root = tempfile::tempdir().unwrap();
    let node = Node::new(root.path(), "master1");
    node.write_config(&format!(
        "initial-cluster = \"master1=http://127.0.0.1:{}\"\n",
        node.peer_port
    ));
    let master = node.start();
    let addr = node.addr.clone();
    let up = wait_until(Duration::from_secs(60), || async {
        master.role().await == "leader"
    })
    .await;
    assert!(up, "the master leads on its own etcd: {}", master.log());

    // The member uses the configured peer URL and advertises the master
    // address as its client URL.
    assert_eq!(
        members_via(&addr).await,
        vec![(
            "master1".to_string(),
            vec![node.peer_url()],
            vec![format!("http://{addr}")]
        )]
    );
    assert!(
        node.data_dir.join("member").join("wal").is_dir(),
        "etcd's data is in data-dir, as DM's"
    );

    // What a DM-worker's etcd client does every 3 s: re-sync its endpoints
    // from MemberList, then use only those.
    let learned: Vec<String> = member_list(&addr)
        .await
        .iter()
        .filter(|m| !m.name().is_empty())
        .flat_map(|m| m.client_urls().to_vec())
        .collect();
    let mut synced = Client::connect(learned, None).await.unwrap();
    synced.put("/synced", "yes", None).await.unwrap();
    let got = synced.get("/synced", None).await.unwrap();
    assert_eq!(got.kvs()[0].value(), b"yes");

    exercise_with_client(&addr, "/embedded").await;
    let blocking_addr = addr.clone();
    tokio::task::spawn_blocking(move || exercise_with_etcdctl(&blocking_addr, "/embedded-ctl"))
        .await
        .unwrap();

    // The member dies under the master: the master restarts it on its data
    // and serves etcd's API again on its address.
    let data_dir = node.data_dir.display().to_string();
    let before = etcd_pids(&data_dir);
    assert_eq!(before.len(), 1, "one etcd member process");
    Command::new("kill")
        .args(["-9", &before[0].to_string()])
        .status()
        .unwrap();
    let restarted = wait_until(Duration::from_secs(30), || {
        let now = etcd_pids(&data_dir);
        let replaced = now.len() == 1 && now != before;
        async move { replaced }
    })
    .await;
    assert!(restarted, "the member is restarted: {}", master.log());
    let serving = wait_until(Duration::from_secs(30), || {
        let addr = addr.clone();
        async move {
            let Ok(mut client) = Client::connect([format!("http://{addr}")], None).await else {
                return false;
            };
            match client.get("/synced", None).await {
                Ok(got) => got.kvs().first().map(|kv| kv.value()) == Some(&b"yes"[..]),
                Err(_) => false,
            }
        }
    })
    .await;
    assert!(serving, "the restarted member serves the same data");
    assert!(
        master.log().contains("etcd member exited; restarting it"),
        "{}",
        master.log()
    );
}

/// PIDs of `etcd` processes (not their shell guards) with `data_dir` among
/// their arguments.
fn etcd_pids(data_dir: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let has_dir = cmd.split(|b| *b == 0).any(|a| a == data_dir.as_bytes());
            (comm.trim() == "etcd" && has_dir).then_some(pid)
        })
        .collect()
}

/// The index of the one `"leader"` among `roles` when every other is a
/// `"follower"`.
pub(crate) fn one_leader(roles: &[String]) -> Option<usize> {
    let leaders: Vec<usize> = (0..roles.len()).filter(|i| roles[*i] == "leader").collect();
    let followers = roles.iter().filter(|r| *r == "follower").count();
    (leaders.len() == 1 && followers == roles.len() - 1).then(|| leaders[0])
}

/// The leader among `masters` once exactly one leads and the others
/// follow.
async fn settled_leader(masters: &[&MasterProcess], timeout: Duration) -> Option<usize> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut roles = Vec::new();
        for m in masters {
            roles.push(m.role().await);
        }
        if let Some(leader) = one_leader(&roles) {
            return Some(leader);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn running(masters: &[Option<MasterProcess>]) -> Vec<&MasterProcess> {
    masters.iter().flatten().collect()
}

#[tokio::test]
async fn three_masters_form_one_cluster_survive_the_leader_restart_and_take_a_fourth() {
    use dm_master::etcd::Etcd;
    use dm_master::keys::KeySpace;
    use dm_master::pessimism::ops;
    use dm_master::proto::master_client::MasterClient;
    use dm_master::proto::ShowDdlLocksRequest;
    use dm_worker::shardddl::pessimist::PessimistClient;
    use tokio_util::sync::CancellationToken;

    const DDL: &str = "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT";
    let root = tempfile::tempdir().unwrap();
    let ports = distinct_ports(8);
    let nodes: Vec<Node> = ["master1", "master2", "master3"]
        .iter()
        .enumerate()
        .map(|(i, n)| Node::on_ports(root.path(), n, ports[2 * i], ports[2 * i + 1]))
        .collect();
    let initial_cluster = nodes
        .iter()
        .map(|n| format!("{}={}", n.name, n.peer_url()))
        .collect::<Vec<_>>()
        .join(",");
    for node in &nodes {
        node.write_config(&format!("initial-cluster = \"{initial_cluster}\"\n"));
    }
    let mut masters: Vec<Option<MasterProcess>> = nodes.iter().map(|n| Some(n.start())).collect();

    // One three-member etcd cluster, one leader.
    let leader = settled_leader(&running(&masters), Duration::from_secs(90)).await;
    let leader = leader.unwrap_or_else(|| {
        panic!(
            "one leader among three masters; logs:\n{}",
            masters
                .iter()
                .flatten()
                .map(|m| m.log())
                .collect::<String>()
        )
    });
    let expected: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                vec![n.peer_url()],
                vec![format!("http://{}", n.addr)],
            )
        })
        .collect();
    for node in &nodes {
        assert_eq!(members_via(&node.addr).await, expected);
    }

    // Workers reach etcd through the master addresses, as DM-workers do.
    let endpoints: Vec<String> = nodes.iter().map(|n| format!("http://{}", n.addr)).collect();
    let etcd = Etcd::connect(&endpoints, Default::default()).await.unwrap();
    let space = KeySpace::default();
    crate::pessimism::register_task(&etcd, &space, "t", &["s1", "s2"]).await;
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    let leader_addr = format!("http://{}", nodes[leader].addr);
    let pending = wait_until(Duration::from_secs(20), || {
        let leader_addr = leader_addr.clone();
        async move {
            let Ok(mut client) = MasterClient::connect(leader_addr).await else {
                return false;
            };
            client
                .show_ddl_locks(ShowDdlLocksRequest::default())
                .await
                .map(|r| r.into_inner().locks.len() == 1)
                .unwrap_or(false)
        }
    })
    .await;
    assert!(pending, "the leader holds the pending lock");

    // The leader master dies with its etcd member.
    let killed = leader;
    masters[killed].take().unwrap().kill();
    let member_dir = nodes[killed].data_dir.display().to_string();
    let member_gone = wait_until(Duration::from_secs(20), || {
        let gone = !crate::process::process_with_arg_running(&member_dir);
        async move { gone }
    })
    .await;
    assert!(member_gone, "the killed master's etcd member stops with it");
    let new_leader = settled_leader(&running(&masters), Duration::from_secs(60)).await;
    assert!(new_leader.is_some(), "the two others elect a new leader");

    // The pending lock resolves under the new leader. The workers' clients
    // now use the surviving masters (a Go client fails over by itself).
    let surviving: Vec<String> = (0..nodes.len())
        .filter(|i| *i != killed)
        .map(|i| format!("http://{}", nodes[i].addr))
        .collect();
    let etcd = Etcd::connect(&surviving, Default::default()).await.unwrap();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r2 = put_ddl(&c2, DDL, &cancel).await;
    let op1 = crate::support::answered(&c1, r1, &cancel, Duration::from_secs(30)).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = crate::support::answered(&c2, r2, &cancel, Duration::from_secs(30)).await;
    assert!(!op2.exec);
    c2.done(&op2).await.unwrap();
    let resolved = wait_until(Duration::from_secs(30), || async {
        etcd.get_prefix(&ops::pessimism_prefix(&space))
            .await
            .map(|r| r.value.is_empty())
            .unwrap_or(false)
    })
    .await;
    assert!(resolved, "the lock's keys are gone");

    // The stopped master restarts on its data (no new bootstrap) and
    // follows.
    masters[killed] = Some(nodes[killed].start());
    let settled = settled_leader(&running(&masters), Duration::from_secs(60)).await;
    assert!(
        settled.is_some(),
        "the restarted master rejoins: {}",
        masters[killed].as_ref().unwrap().log()
    );
    assert_eq!(members_via(&nodes[killed].addr).await, expected);

    // A fourth master joins through the masters' addresses.
    let fourth = Node::on_ports(root.path(), "master4", ports[6], ports[7]);
    let join = nodes
        .iter()
        .map(|n| n.addr.clone())
        .collect::<Vec<_>>()
        .join(",");
    fourth.write_config(&format!("join = \"{join}\"\n"));
    masters.push(Some(fourth.start()));
    let settled = settled_leader(&running(&masters), Duration::from_secs(60)).await;
    assert!(
        settled.is_some(),
        "the fourth master follows: {}",
        masters[3].as_ref().unwrap().log()
    );
    let mut with_fourth = expected.clone();
    with_fourth.push((
        "master4".to_string(),
        vec![fourth.peer_url()],
        vec![format!("http://{}", fourth.addr)],
    ));
    with_fourth.sort();
    assert_eq!(members_via(&fourth.addr).await, with_fourth);
    let join_file = std::fs::read_to_string(fourth.data_dir.join("join")).unwrap();
    assert!(
        join_file.contains(&format!("master4={}", fourth.peer_url())),
        "{join_file}"
    );
    // Data written through the newcomer is read through an old master.
    client_of(&fourth.addr)
        .await
        .put("/via-fourth", "4", None)
        .await
        .unwrap();
    let got = client_of(&nodes[0].addr)
        .await
        .get("/via-fourth", None)
        .await
        .unwrap();
    assert_eq!(got.kvs()[0].value(), b"4");
}

/// `docker-compose.yml` (no docker CLI with compose here): valid YAML with
/// three masters from DM-style config files that this master accepts and
/// that describe one three-member cluster, a MariaDB, and no etcd service.
#[test]
fn docker_compose_runs_three_masters_from_dm_style_configs_and_mariadb() {
    use serde_norway::Value;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    let mut compose: Value = serde_norway::from_str(&text).expect("docker-compose.yml is YAML");
    compose.apply_merge().expect("merge keys resolve");
    let services = compose["services"].as_mapping().expect("services");
    let mut names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    names.sort();
    assert_eq!(names, ["mariadb", "master1", "master2", "master3"]);
    assert!(compose["services"]["mariadb"]["image"]
        .as_str()
        .unwrap()
        .starts_with("mariadb:"));

    let mut initial_clusters = Vec::new();
    for i in 1..=3 {
        let service = &compose["services"][format!("master{i}").as_str()];
        assert!(
            service["build"]["dockerfile_inline"]
                .as_str()
                .unwrap()
                .contains("etcd-server"),
            "the image carries the etcd binary for the embedded member"
        );
        let command: Vec<&str> = service["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!command.contains(&"--etcd-endpoints"), "no external etcd");
        let mount = service["volumes"][0].as_str().unwrap();
        let (host_path, rest) = mount.split_once(':').unwrap();
        let in_container = rest.split(':').next().unwrap();
        assert_eq!(
            command[..2],
            ["--config", in_container],
            "master{i} reads its mounted config"
        );

        let file = root.join(host_path.trim_start_matches("./"));
        let args = ["--config", file.to_str().unwrap()];
        let config = match Config::parse_args(&args).expect("the master accepts the compose config")
        {
            dm_master::config::Invocation::Run(config) => config,
            _ => panic!("the compose config runs a master"),
        };
        assert_eq!(config.name, format!("master{i}"));
        assert_eq!(config.advertise_addr, format!("master{i}:8261"));
        assert!(config.etcd_endpoints.is_empty(), "embedded member");
        assert_eq!(config.peer_urls, vec!["http://0.0.0.0:8291".to_string()]);
        assert_eq!(
            config.advertise_peer_urls,
            vec![format!("http://master{i}:8291")]
        );
        assert!(config
            .initial_cluster
            .split(',')
            .any(|m| m == format!("master{i}=http://master{i}:8291")));
        initial_clusters.push(config.initial_cluster);
    }
    initial_clusters.dedup();
    assert_eq!(
        initial_clusters.len(),
        1,
        "one cluster: {initial_clusters:?}"
    );
}

#[tokio::test]
async fn dms_sample_config_runs_its_own_etcd_member_on_the_configured_peer_url() {
    let dir = tempfile::tempdir().unwrap();
    let ports = distinct_ports(2);
    let (port, peer) = (ports[0], ports[1]);
    // DM's own sample file, only ports and paths replaced; no
    // --etcd-endpoints, so the master runs its embedded member.
    let sample = dm_master::config::SAMPLE_CONFIG
        .replace(":8261", &format!(":{port}"))
        .replace(":8291", &format!(":{peer}"))
        .replace(
            "\"dm-master.log\"",
            &format!("\"{}\"", dir.path().join("master.log").display()),
        )
        .replace(
            "default.dm-master",
            &dir.path().join("data").display().to_string(),
        );
    let config = dir.path().join("dm-master.toml");
    std::fs::write(&config, sample).unwrap();
    let addr = format!("127.0.0.1:{port}");
    let master = MasterProcess::spawn(
        &addr,
        &["-config", config.to_str().unwrap()],
        &dir.path().join("stdout.log"),
    );
    let up = crate::support::wait_until(Duration::from_secs(60), || async {
        master.role().await == "leader"
    })
    .await;
    let log = || std::fs::read_to_string(dir.path().join("master.log")).unwrap_or_default();
    assert!(up, "the master leads on its own etcd: {}", log());

    // etcd's API through the master address: put, get, member list.
    etcdctl(&addr, &["put", "/sample/k", "v"]);
    assert_eq!(
        etcdctl(&addr, &["get", "/sample/k", "--print-value-only"]),
        "v\n"
    );
    let members = etcdctl(&addr, &["member", "list"]);
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(
        members.contains(&format!(
            ", dm-master, http://127.0.0.1:{peer}, http://{addr}"
        )),
        "the member uses the configured peer URL and advertises the master address: {members}"
    );
}
