//! The `templates` and `template_current` tables: every saved version of each launch
//! template, and which one is current (see `model::template`).

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::template::{Template, TemplateVersion};
use rusqlite::{params, OptionalExtension};

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, u32, String, String, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn version_of(
    (name, version, doc, created_at, current): (String, u32, String, String, bool),
) -> Result<TemplateVersion> {
    let template: Template = serde_json::from_str(&doc).map_err(|e| {
        Error::InvalidArgument(format!(
            "template {name} version {version} in the store does not read ({e}); save a new version"
        ))
    })?;
    Ok(TemplateVersion {
        name,
        version,
        created_at,
        current,
        template,
    })
}

const SELECT: &str = "SELECT t.name, t.version, t.doc, t.created_at,
        COALESCE(c.version = t.version, 0)
    FROM templates t LEFT JOIN template_current c ON c.name = t.name";

impl Store {
    /// Saves `t` as the next version of `name` and makes it current.
    pub fn save_template(&self, name: &str, t: &Template) -> Result<TemplateVersion> {
        let doc = serde_json::to_string(t).expect("a template serializes");
        let now = crate::model::clock::now_iso();
        let version: u32 = self.write(|tx| {
            let v: u32 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM templates WHERE name = ?1",
                )?
                .query_row([name], |r| r.get(0))?;
            tx.prepare_cached(
                "INSERT INTO templates (name, version, doc, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![name, v, doc, now])?;
            tx.prepare_cached(
                "INSERT INTO template_current (name, version) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            )?
            .execute(params![name, v])?;
            Ok(v)
        })?;
        Ok(TemplateVersion {
            name: name.to_string(),
            version,
            created_at: now,
            current: true,
            template: t.clone(),
        })
    }

    /// A version of `name` (`None`: the current one); `None` when there is no such.
    pub fn template(&self, name: &str, version: Option<u32>) -> Result<Option<TemplateVersion>> {
        let sql = format!("{SELECT} WHERE t.name = ?1 AND t.version = COALESCE(?2, c.version)");
        let found = self
            .connection()
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(params![name, version], row).optional())
            .map_err(|e| self.err(e))?;
        found.map(version_of).transpose()
    }

    /// The current version of every template, by name.
    pub fn templates(&self) -> Result<Vec<TemplateVersion>> {
        let sql = format!("{SELECT} WHERE t.version = c.version ORDER BY t.name");
        self.template_rows(&sql, None)
    }

    /// Every version of `name`, oldest first (empty: no such template).
    pub fn template_history(&self, name: &str) -> Result<Vec<TemplateVersion>> {
        let sql = format!("{SELECT} WHERE t.name = ?1 ORDER BY t.version");
        self.template_rows(&sql, Some(name))
    }

    fn template_rows(&self, sql: &str, name: Option<&str>) -> Result<Vec<TemplateVersion>> {
        let rows = self
            .connection()
            .prepare_cached(sql)
            .and_then(|mut st| {
                let mapped = match name {
                    Some(n) => st
                        .query_map([n], row)?
                        .collect::<rusqlite::Result<Vec<_>>>(),
                    None => st.query_map([], row)?.collect::<rusqlite::Result<Vec<_>>>(),
                };
                mapped
            })
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(version_of).collect()
    }

    /// Makes `version` of `name` current again; false when there is no such version.
    pub fn set_current_template(&self, name: &str, version: u32) -> Result<bool> {
        self.write(|tx| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM templates WHERE name = ?1 AND version = ?2")?
                .exists(params![name, version])?;
            if exists {
                tx.prepare_cached("UPDATE template_current SET version = ?2 WHERE name = ?1")?
                    .execute(params![name, version])?;
            }
            Ok(exists)
        })
    }

    /// Deletes every version of `name`; false when there was none.
    pub fn remove_template(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM templates WHERE name = ?1")?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM template_current WHERE name = ?1")?
                .execute([name])?;
            Ok(n > 0)
        })
    }
}
