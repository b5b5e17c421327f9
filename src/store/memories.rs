//! Memories and their scopes.

use super::Store;
use crate::domain::{Memory, MemoryStage, RuleClasses, RuleScope, Scope};
use crate::wire::timestamp;
use anyhow::{Context, Result};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredRules {
    All(bool),
    Rules(Vec<String>),
    Class(String),
}

impl Store {
    /// Creates or replaces a memory.
    pub fn put_memory(&self, m: &Memory) -> Result<()> {
        let rules = match &m.scope.rules {
            RuleScope::All => StoredRules::All(true),
            RuleScope::Rules(r) => StoredRules::Rules(r.clone()),
            RuleScope::Class(c) => StoredRules::Class(c.clone()),
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO memories (id, content, projects, rules, path_prefixes, stage,
                guidance, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                m.id,
                m.content,
                serde_json::to_string(&m.scope.projects)?,
                serde_json::to_string(&rules)?,
                serde_json::to_string(&m.scope.path_prefixes)?,
                m.stage.as_str(),
                m.guidance,
                m.created_by,
                timestamp::format(m.created_at),
                timestamp::format(m.updated_at),
            ],
        )?;
        Ok(())
    }

    /// Each rule's vulnerability classes, for class scopes.
    pub fn rule_classes(&self) -> Result<RuleClasses> {
        let mut stmt = self.conn.prepare("SELECT name, doc FROM rules")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut classes = RuleClasses::new();
        for row in rows {
            let (name, doc) = row?;
            let doc: serde_json::Value = serde_json::from_str(&doc).unwrap_or_default();
            let list = doc["vulnerability_classes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            classes.insert(name, list);
        }
        Ok(classes)
    }

    pub fn memories(&self) -> Result<Vec<Memory>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, content, projects, rules, path_prefixes, stage, guidance, created_by,
                    created_at, updated_at FROM memories ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, bool>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, content, projects, rules, prefixes, stage, guidance, by, created, updated) =
                row?;
            let rules = match serde_json::from_str(&rules)
                .with_context(|| format!("memory {id} has a damaged scope"))?
            {
                StoredRules::All(_) => RuleScope::All,
                StoredRules::Rules(r) => RuleScope::Rules(r),
                StoredRules::Class(c) => RuleScope::Class(c),
            };
            out.push(Memory {
                scope: Scope {
                    projects: serde_json::from_str(&projects)?,
                    rules,
                    path_prefixes: serde_json::from_str(&prefixes)?,
                },
                stage: MemoryStage::parse(&stage).unwrap_or(MemoryStage::Suggested),
                guidance,
                created_by: by,
                created_at: timestamp::parse(&created).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                updated_at: timestamp::parse(&updated).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                content,
                id,
            });
        }
        Ok(out)
    }
}
