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

/// A memory as JSON, for the memory outbox.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredMemory {
    id: String,
    content: String,
    projects: Vec<String>,
    rules: StoredRules,
    path_prefixes: Vec<String>,
    stage: String,
    guidance: bool,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl StoredMemory {
    pub(super) fn of(m: &Memory) -> StoredMemory {
        StoredMemory {
            id: m.id.clone(),
            content: m.content.clone(),
            projects: m.scope.projects.clone(),
            rules: StoredRules::of(&m.scope.rules),
            path_prefixes: m.scope.path_prefixes.clone(),
            stage: m.stage.as_str().into(),
            guidance: m.guidance,
            created_by: m.created_by.clone(),
            created_at: timestamp::format(m.created_at),
            updated_at: timestamp::format(m.updated_at),
        }
    }

    pub(super) fn into_memory(self) -> Memory {
        Memory {
            scope: Scope {
                projects: self.projects,
                rules: self.rules.into_scope(),
                path_prefixes: self.path_prefixes,
            },
            stage: MemoryStage::parse(&self.stage).unwrap_or(MemoryStage::Suggested),
            guidance: self.guidance,
            created_by: self.created_by,
            created_at: timestamp::parse(&self.created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            updated_at: timestamp::parse(&self.updated_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            content: self.content,
            id: self.id,
        }
    }
}

impl StoredRules {
    fn of(rules: &RuleScope) -> StoredRules {
        match rules {
            RuleScope::All => StoredRules::All(true),
            RuleScope::Rules(r) => StoredRules::Rules(r.clone()),
            RuleScope::Class(c) => StoredRules::Class(c.clone()),
        }
    }

    fn into_scope(self) -> RuleScope {
        match self {
            StoredRules::All(_) => RuleScope::All,
            StoredRules::Rules(r) => RuleScope::Rules(r),
            StoredRules::Class(c) => RuleScope::Class(c),
        }
    }
}

/// Writes a memory as the backend has it (no version bump: a mirror).
pub(super) fn write_memory(conn: &rusqlite::Connection, m: &Memory) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO memories (id, content, projects, rules, path_prefixes, stage,
            guidance, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            m.id,
            m.content,
            serde_json::to_string(&m.scope.projects)?,
            serde_json::to_string(&StoredRules::of(&m.scope.rules))?,
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

impl Store {
    /// Creates or replaces a memory, as a backend does: other consoles on
    /// this store notice it.
    pub fn put_memory(&self, m: &Memory) -> Result<()> {
        write_memory(&self.conn, m)?;
        self.bump_version()
    }

    /// Removes a memory, as a backend does; false when there was none with
    /// this id.
    pub fn delete_memory(&self, id: &str) -> Result<bool> {
        let deleted = self
            .conn
            .execute("DELETE FROM memories WHERE id = ?1", [id])?
            > 0;
        if deleted {
            self.bump_version()?;
        }
        Ok(deleted)
    }

    /// Replaces every memory with the backend's list (a pull); true when
    /// anything changed.
    pub fn replace_memories(&mut self, memories: &[Memory]) -> Result<bool> {
        let before = self.memories()?;
        let mut sorted = memories.to_vec();
        sorted.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        if before == sorted {
            return Ok(false);
        }
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM memories", [])?;
        for m in memories {
            write_memory(&tx, m)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// What in a scope names no project or rule the store knows, in
    /// words; empty when every name is known. A class is not checked: it
    /// may name one no rule has yet.
    pub fn unknown_scope_names(&self, scope: &crate::domain::Scope) -> Result<Vec<String>> {
        let mut unknown = Vec::new();
        let known: std::collections::HashSet<String> =
            self.projects()?.into_iter().map(|(n, _)| n).collect();
        unknown.extend(
            scope
                .projects
                .iter()
                .filter(|p| !known.contains(*p))
                .map(|p| format!("no project is named {p}")),
        );
        if let RuleScope::Rules(rules) = &scope.rules {
            let classes = self.rule_classes()?;
            unknown.extend(
                rules
                    .iter()
                    .filter(|r| !classes.contains_key(*r))
                    .map(|r| format!("no rule has the id {r}")),
            );
        }
        Ok(unknown)
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
            let rules = serde_json::from_str::<StoredRules>(&rules)
                .with_context(|| format!("memory {id} has a damaged scope"))?
                .into_scope();
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
