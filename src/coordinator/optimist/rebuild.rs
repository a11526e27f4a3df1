//! Decoding and rebuild: every optimism key decoded into a [`Record`]
//! (malformed values reported with task and key, then skipped), and every
//! lock rebuilt from a snapshot at one revision.

use super::*;

pub(super) enum Record {
    SourceTables(SourceTables),
    /// With the Info's schemas when it was decoded from a watch event.
    Info(String, TableKey, StoredInfo, Option<InfoSchemas>),
    Operation(String, TableKey, Operation, i64),
    DroppedColumn(StoredDroppedColumn),
}

impl Optimist {
    pub(super) fn report_malformed(
        &self,
        kv_key: &[u8],
        task: &str,
        error: &dyn std::fmt::Display,
    ) {
        tracing::error!(key = %String::from_utf8_lossy(kv_key), %task, %error, "malformed optimism value, skipped");
        self.ctx
            .metrics
            .report_ddl_error(task, metrics::ERR_MALFORMED_VALUE);
    }

    /// Decodes a key read at rebuild (Infos without their schemas: most
    /// are replayed only once the plan needs them).
    pub(super) fn decode(&self, kv: &KeyValue) -> Option<Record> {
        self.decode_as(kv, false)
    }

    /// Decodes a key from a watch event; an Info comes with its schemas,
    /// decoded from the JSON parsed here (see [`InfoSchemas`]).
    pub(super) fn decode_event(&self, kv: &KeyValue) -> Option<Record> {
        self.decode_as(kv, true)
    }

    fn decode_as(&self, kv: &KeyValue, with_schemas: bool) -> Option<Record> {
        let key = &kv.key;
        // A value that does not decode is reported and skipped.
        if let Some([task, _source]) = self.ctx.space.decode_if_held(&OPTIMISM_SOURCE_TABLES, key) {
            return SourceTables::decode(&kv.value)
                .map_err(|e| self.report_malformed(key, &task, &e))
                .ok()
                .map(Record::SourceTables);
        }
        if let Some([task, source, schema, table]) =
            self.ctx.space.decode_if_held(&OPTIMISM_INFO, key)
        {
            let decoded = if with_schemas {
                Info::decode_with_schemas(&kv.value).map(|(info, s)| (info, Some(s)))
            } else {
                Info::decode(&kv.value).map(|info| (info, None))
            };
            let (info, schemas) = decoded
                .map_err(|e| self.report_malformed(key, &task, &e))
                .ok()?;
            let stored = StoredInfo {
                info,
                version: kv.version,
                revision: kv.mod_revision,
            };
            return Some(Record::Info(
                task,
                TableKey::new(&source, &schema, &table),
                stored,
                schemas,
            ));
        }
        if let Some([task, source, schema, table]) =
            self.ctx.space.decode_if_held(&OPTIMISM_OPERATION, key)
        {
            let op = Operation::decode(&kv.value)
                .map_err(|e| self.report_malformed(key, &task, &e))
                .ok()?;
            return Some(Record::Operation(
                task,
                TableKey::new(&source, &schema, &table),
                op,
                kv.mod_revision,
            ));
        }
        if let Some([lock_id, column, source, schema, table]) = self
            .ctx
            .space
            .decode_if_held(&OPTIMISM_DROPPED_COLUMNS, key)
        {
            let stage = DropColumnStage::decode(&kv.value)
                .map_err(|e| self.report_malformed(key, "", &e))
                .ok()?;
            return Some(Record::DroppedColumn(StoredDroppedColumn {
                lock_id,
                column,
                key: TableKey::new(&source, &schema, &table),
                stage,
            }));
        }
        if self.ctx.space.decode(&OPTIMISM_INIT_SCHEMA, key).is_err() {
            self.report_malformed(key, "", &"key matches no optimism adapter");
        }
        None
    }

    pub(super) async fn rebuild(&mut self, kvs: Vec<KeyValue>, revision: i64) -> Result<()> {
        self.infos.clear();
        self.operations.clear();
        self.lock_states.clear();
        let mut snapshot = Snapshot::default();
        let mut operations = Vec::new();
        for kv in &kvs {
            match self.decode(kv) {
                Some(Record::SourceTables(st)) => {
                    snapshot
                        .source_tables
                        .entry(st.task.clone())
                        .or_default()
                        .insert(st.source.clone(), st);
                }
                Some(Record::Info(task, key, stored, _)) => {
                    self.infos.insert((task, key), Box::new(stored.clone()));
                    snapshot.infos.push(stored);
                }
                Some(Record::Operation(task, key, op, rev)) => {
                    self.operations
                        .insert((task, key), Box::new((op.clone(), rev)));
                    operations.push(op);
                }
                Some(Record::DroppedColumn(c)) => snapshot.dropped_columns.push(c),
                None => {}
            }
        }
        let plan = plan_rebuild(snapshot);
        self.keeper = plan.keeper;
        self.tables = plan.tables;
        for skipped in &plan.skipped {
            tracing::warn!(task = %skipped.info.task, source = %skipped.info.source, schema = %skipped.info.up_schema, table = %skipped.info.up_table, "info of a table no SourceTables routes, skipped at rebuild");
        }
        let replayed = plan.replay.len();
        for stored in plan.replay {
            self.answer_info(stored, None, true).await?;
        }
        let finish = self.keeper.finish_rebuild(&operations);
        for columns in &finish.columns {
            self.write_column_effects(columns).await?;
        }
        for orphan in &finish.orphans {
            tracing::warn!(task = %orphan.task, lock_id = %orphan.id, source = %orphan.source, "operation without a lock");
        }
        for removal in finish.removals {
            self.remove_lock(removal).await?;
        }
        self.publish_metrics();
        tracing::info!(
            revision,
            locks = self.keeper.len(),
            infos = replayed,
            "optimistic locks rebuilt"
        );
        Ok(())
    }
}
