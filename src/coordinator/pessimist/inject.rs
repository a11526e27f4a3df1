//! Operator requests that are not DM's: lock details for the lock page and
//! inject (an Info written for a source that will never report it). Injected
//! sources are tracked so they settle as done once the lock is synced.

use super::*;

/// One lock as the lock page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LockDetail {
    pub view: LockView,
    /// Since this master's pessimist first saw the lock.
    pub age_seconds: f64,
    /// Sources whose Info was injected, sorted.
    pub injected: Vec<String>,
    /// Sources done with the lock's Operation, sorted.
    pub done: Vec<String>,
}

impl Pessimist {
    pub(super) fn mark_injected(&mut self, task: &str, source: &str, value: &[u8]) {
        let key = (task.to_owned(), source.to_owned());
        if operator::is_injected(value) {
            self.injected.insert(key);
        } else if self.injected.remove(&key) {
            // The operator said this source would never report; it did. In
            // a synced lock it already counts as done and gets no
            // Operation, so its worker waits for an unlock.
            tracing::warn!(%task, %source, "a source whose Info was injected put its own Info");
            self.ctx
                .metrics
                .report_ddl_error(task, metrics::ERR_INFO_PUT_SYNC_LOCK);
        }
    }

    /// Sources whose stored Info for `lock_id` was injected.
    pub(super) fn injected_sources(&self, lock_id: &str) -> BTreeSet<String> {
        self.injected
            .iter()
            .filter(|key| {
                self.infos
                    .get(*key)
                    .is_some_and(|i| i.value.lock_id() == lock_id)
            })
            .map(|(_, source)| source.clone())
            .collect()
    }

    /// Keeps the injected-source invariants of one lock; returns whether
    /// the lock became resolved by it.
    pub(super) fn settle_injected(&mut self, lock_id: &str) -> bool {
        let injected = self.injected_sources(lock_id);
        let settled = operator::settle_injected(&mut self.keeper, lock_id, &injected);
        if let Some((from, to)) = &settled.owner_moved {
            tracing::info!(%lock_id, %from, %to, "owner moved off an injected source");
        }
        if !settled.marked_done.is_empty() {
            tracing::info!(%lock_id, injected = ?settled.marked_done, "lock synced; injected sources count as done");
        }
        settled.resolved
    }

    /// Settles every lock with an injected source; returns their IDs.
    pub(super) fn settle_all_injected(&mut self) -> BTreeSet<String> {
        let lock_ids: BTreeSet<String> = self
            .injected
            .iter()
            .filter_map(|key| self.infos.get(key).map(|i| i.value.lock_id()))
            .collect();
        for lock_id in &lock_ids {
            self.settle_injected(lock_id);
        }
        lock_ids
    }

    pub(super) fn lock_details(&self) -> Vec<LockDetail> {
        let now = std::time::Instant::now();
        self.keeper
            .show_locks(None, &[])
            .into_iter()
            .map(|view| {
                let lock = self.keeper.find_lock(&view.id);
                let done = lock
                    .map(|l| {
                        l.sources()
                            .filter(|s| l.is_done(s))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                LockDetail {
                    age_seconds: self
                        .first_seen
                        .get(&view.id)
                        .map_or(0.0, |seen| now.duration_since(*seen).as_secs_f64()),
                    injected: self.injected_sources(&view.id).into_iter().collect(),
                    done,
                    view,
                }
            })
            .collect()
    }

    /// Checks an inject against the lock and the source's current Info,
    /// then writes the injected Info if the key is still absent.
    pub(super) async fn inject(&mut self, request: &InjectRequest) -> Result<()> {
        let lock_id = request.lock_id();
        let key = (request.task.clone(), request.source.clone());
        let current = self
            .infos
            .get(&key)
            .map(|stored| (stored.value.lock_id(), self.injected.contains(&key)));
        let task_sources = self
            .registry
            .contains(&request.task)
            .then(|| self.registry.sources(&request.task));
        let injected = self.injected_sources(&lock_id);
        let context = InjectContext {
            task_sources: task_sources.as_deref(),
            pessimistic: self.registry.mode(&request.task) == Some(ShardMode::Pessimistic),
            current: current.as_ref().map(|(id, inj)| (id.as_str(), *inj)),
            injected: &injected,
        };
        let info = match operator::check_inject(&self.keeper, request, context) {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(task = %request.task, source = %request.source, %lock_id, %error, "inject refused");
                return Err(error.into());
            }
        };
        let info_key = ops::info_key(&self.ctx.space, &request.task, &request.source);
        let txn = Txn::new("inject info")
            .when([Compare::Absent(info_key.clone().into_bytes())])
            .then([Op::put(info_key.as_str(), operator::encode_injected(&info))]);
        let outcome = self
            .ctx
            .etcd
            .txn_fenced(txn, self.ctx.fence.as_ref())
            .await?;
        if !outcome.succeeded {
            // The source's own Info landed meanwhile; the watch brings it.
            tracing::warn!(task = %request.task, source = %request.source, %lock_id, "inject refused: the source put its Info meanwhile");
            return Err(operator::OperatorError::AlreadyReported {
                source_id: request.source.clone(),
                lock_id,
            }
            .into());
        }
        tracing::warn!(task = %request.task, source = %request.source, %lock_id, ddls = ?request.ddls, revision = outcome.revision, "info injected by an operator");
        Ok(())
    }
}
