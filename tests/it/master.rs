//! The one way tests start an in-process master: [`TestMaster::builder`]
//! names only what a test changes (name, etcd endpoint, metrics, an
//! advertised address, the election TTL, any other config field), and the
//! started master keeps its data directory for as long as it lives.
//!
//! Defaults: name `m`, the shared etcd, fresh metrics, a temporary data
//! directory, a loopback port chosen by the listener and nothing advertised.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use dm_master::config::Config;
use dm_master::keys::KeySpace;
use dm_master::metrics::Metrics;
use dm_master::proto::master_client::MasterClient;
use dm_master::server::{self, Master, Role};
use tonic::transport::Channel;

use crate::support::{free_port, wait_until, EtcdServer};

/// A master started for a test, with its metrics and its data directory.
/// Derefs to [`Master`].
pub struct TestMaster {
    pub master: Master,
    pub metrics: Arc<Metrics>,
    _data: tempfile::TempDir,
}

impl Deref for TestMaster {
    type Target = Master;

    fn deref(&self) -> &Master {
        &self.master
    }
}

impl TestMaster {
    /// A master in `space`, with the defaults of the module docs.
    pub fn builder(space: &KeySpace) -> MasterBuilder {
        MasterBuilder {
            name: "m".to_owned(),
            space: space.clone(),
            endpoint: None,
            metrics: None,
            advertised: false,
            election_ttl: None,
            configure: None,
        }
    }

    /// Stops the master and waits for all its tasks.
    pub async fn stop(self) {
        self.master.stop().await;
    }

    /// A gRPC client of this master.
    pub async fn client(&self) -> MasterClient<Channel> {
        MasterClient::connect(format!("http://{}", self.local_addr))
            .await
            .expect("connect to the master")
    }

    /// Two masters `m1` and `m2` that forward to each other, `m1` leading
    /// and `m2` following it (each waited for at most `within`); their
    /// short election TTL lets `m2` take over soon after `m1` stops.
    pub async fn leader_and_follower(
        space: &KeySpace,
        within: Duration,
    ) -> (TestMaster, TestMaster) {
        let member = |name| {
            TestMaster::builder(space)
                .name(name)
                .advertised()
                .election_ttl(Duration::from_secs(3))
        };
        let leader = member("m1").lead(within).await;
        let follower = member("m2").follow(within).await;
        (leader, follower)
    }
}

type Configure = Box<dyn FnOnce(&mut Config) + Send>;

/// What differs between the masters tests start; see [`TestMaster::builder`].
pub struct MasterBuilder {
    name: String,
    space: KeySpace,
    endpoint: Option<String>,
    metrics: Option<Arc<Metrics>>,
    advertised: bool,
    election_ttl: Option<Duration>,
    configure: Option<Configure>,
}

impl MasterBuilder {
    /// The member name (`--name`).
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// The etcd endpoint to use instead of the shared etcd's (a proxy, a
    /// private etcd).
    pub fn endpoint(mut self, endpoint: String) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Metrics the test reads (otherwise fresh ones, in
    /// [`TestMaster::metrics`]).
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Listens on a free loopback port and advertises it, so that a follower
    /// can forward to this master.
    pub fn advertised(mut self) -> Self {
        self.advertised = true;
        self
    }

    /// A shorter election TTL, so that a successor takes over sooner.
    pub fn election_ttl(mut self, ttl: Duration) -> Self {
        self.election_ttl = Some(ttl);
        self
    }

    /// Any other change to the config (TLS, ...), applied last.
    pub fn configure(mut self, change: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.configure = Some(Box::new(change));
        self
    }

    /// Starts the master without waiting for it to lead.
    pub async fn start(self) -> TestMaster {
        let data = tempfile::tempdir().expect("temp dir");
        let endpoint = self
            .endpoint
            .unwrap_or_else(|| EtcdServer::shared().endpoint.clone());
        let mut config = Config::for_endpoints(&self.name, vec![endpoint], data.path().into());
        if self.advertised {
            let addr = format!("127.0.0.1:{}", free_port());
            config.master_addr.clone_from(&addr);
            config.advertise_addr = addr;
        }
        if let Some(ttl) = self.election_ttl {
            config.election_ttl = ttl;
        }
        if let Some(change) = self.configure {
            change(&mut config);
        }
        let metrics = self.metrics.unwrap_or_else(|| Arc::new(Metrics::new()));
        let master = server::spawn(config, self.space, metrics.clone())
            .await
            .expect("master starts");
        TestMaster {
            master,
            metrics,
            _data: data,
        }
    }

    /// Starts the master and waits (at most `within`) until it leads.
    pub async fn lead(self, within: Duration) -> TestMaster {
        let name = self.name.clone();
        let master = self.start().await;
        assert!(
            master.wait_leader(within).await.is_some(),
            "master {name} did not lead within {within:?}"
        );
        master
    }

    /// Starts the master and waits (at most `within`) until it follows
    /// another one.
    pub async fn follow(self, within: Duration) -> TestMaster {
        let name = self.name.clone();
        let master = self.start().await;
        let follows = wait_until(within, || async {
            matches!(master.role(), Role::Follower { .. })
        })
        .await;
        assert!(follows, "master {name} did not follow within {within:?}");
        master
    }
}
