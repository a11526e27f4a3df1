//! The rebuild: one transaction of range reads at one revision, the pure
//! scheduler rebuilt from it, retried with a backoff until it succeeds or
//! the term ends.

use super::*;

impl SchedulerActor {
    pub(super) fn alive_names(&self, kvs: &[KeyValue]) -> BTreeSet<String> {
        kvs.iter()
            .filter_map(|kv| match WorkerEvent::decode(&kv.value) {
                Ok(ev) => Some(ev.worker_name),
                Err(error) => {
                    self.report_watch_error(kv, &error);
                    None
                }
            })
            .collect()
    }

    /// Rebuilds until it succeeds (bounded backoff) or the term ends;
    /// returns the snapshot revision, or `None` when cancelled.
    pub(super) async fn rebuild_until_done(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<i64>> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(3));
        loop {
            match self.rebuild().await {
                Ok(revision) => return Ok(Some(revision)),
                Err(error @ Error::LeadershipLost { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "scheduler rebuild failed, retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }

    /// Reads everything at one revision, rebuilds the state, writes the
    /// rebuild's effects. Returns the snapshot revision.
    pub(super) async fn rebuild(&mut self) -> Result<i64> {
        let space = &self.ctx.space;
        let reads = Txn::new("scheduler snapshot").then([
            Op::get_prefix(space.path(&WORKER_REGISTER)),
            Op::get_prefix(space.path(&WORKER_KEEP_ALIVE)),
            Op::get_prefix(space.path(&BOUND_WORKER)),
            Op::get_prefix(space.path(&LAST_BOUND_WORKER)),
            Op::get_prefix(space.path(&UPSTREAM_CONFIG)),
        ]);
        let outcome = self
            .ctx
            .etcd
            .txn_fenced(reads, self.ctx.fence.as_ref())
            .await?;
        let revision = outcome.revision;
        let mut snapshot = Snapshot::default();
        for kv in outcome.get_result(0) {
            match (
                self.ctx.space.decode(&WORKER_REGISTER, &kv.key),
                WorkerInfo::decode(&kv.value),
            ) {
                (Ok([name]), Ok(info)) if info.name == name => snapshot.workers.push(info),
                _ => tracing::warn!(key = %kv.key_str(), "malformed worker registration skipped"),
            }
        }
        snapshot.alive = self.alive_names(outcome.get_result(1));
        let decode_bounds = |kvs: &[KeyValue], invalid: &mut Vec<String>| {
            let mut out = Vec::new();
            for kv in kvs {
                let Ok([worker]) = self
                    .ctx
                    .space
                    .decode(&BOUND_WORKER, &kv.key)
                    .or_else(|_| self.ctx.space.decode(&LAST_BOUND_WORKER, &kv.key))
                else {
                    tracing::warn!(key = %kv.key_str(), "undecodable bound key skipped");
                    continue;
                };
                match SourceBound::decode(&kv.value) {
                    // A bound naming another worker reads as missing to a Go
                    // worker: treat it so.
                    Ok(bound) if bound.worker == worker => out.push(bound),
                    _ => {
                        tracing::warn!(key = %kv.key_str(), %worker, "malformed bound");
                        invalid.push(worker);
                    }
                }
            }
            out
        };
        let mut invalid = Vec::new();
        snapshot.bounds = decode_bounds(outcome.get_result(2), &mut invalid);
        snapshot.invalid_bounds = invalid;
        snapshot.last_bounds = decode_bounds(outcome.get_result(3), &mut Vec::new());
        let mut sources = BTreeMap::new();
        for kv in outcome.get_result(4) {
            match self.ctx.space.decode(&UPSTREAM_CONFIG, &kv.key) {
                Ok([source]) => {
                    sources.insert(source, kv.value.clone());
                }
                Err(error) => {
                    tracing::warn!(key = %kv.key_str(), %error, "undecodable source config key skipped")
                }
            }
        }
        snapshot.sources = sources;
        let (state, effects) = Scheduler::rebuild(snapshot);
        self.state = state;
        self.stale = false;
        self.ctx.metrics.worker_state.reset();
        self.apply(effects).await?;
        let workers = self.state.workers();
        tracing::info!(
            revision,
            workers = workers.len(),
            bound = workers.iter().filter(|w| !w.source.is_empty()).count(),
            sources = self.state.source_ids().len(),
            "scheduler rebuilt"
        );
        Ok(revision)
    }
}
