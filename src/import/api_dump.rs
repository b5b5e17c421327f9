//! A Semgrep API findings dump: `{"findings": [...]}` in the v1 shape
//! (ARCHITECTURE §6), e.g. a saved `GET …/findings` page.

use super::{Context, ImportError};
use crate::domain::ScanResults;
use crate::wire::v1::FindingsPage;
use std::collections::HashMap;

/// One [`ScanResults`] per (project, ref), in the order they first appear.
pub(super) fn load(text: &str, ctx: &mut Context) -> Result<Vec<ScanResults>, ImportError> {
    let page: FindingsPage = ctx.parse(text)?;
    let mut scans: Vec<ScanResults> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for wire in page.findings {
        let mut f = wire.into_domain(ctx.now);
        if ctx.project_given {
            f.project = ctx.project.clone();
        }
        if ctx.git_ref_given {
            f.git_ref = ctx.git_ref.clone();
        }
        if f.code.is_none() {
            f.code = ctx.code_from_tree(&f.location.path, f.location.line, f.location.end_line);
        }
        let i = *by_key
            .entry((f.project.clone(), f.git_ref.clone()))
            .or_insert_with(|| {
                scans.push(ScanResults {
                    source_root: ctx.tree.as_ref().map(|t| t.root.clone()),
                    ..ScanResults::platform(
                        ctx.origin.clone(),
                        f.project.clone(),
                        None,
                        f.git_ref.clone(),
                        Vec::new(),
                    )
                });
                scans.len() - 1
            });
        let scan = &mut scans[i];
        if scan.repository_url.is_none() {
            scan.repository_url = f.repository_url.clone();
        }
        scan.findings.push(f);
    }
    Ok(scans)
}
