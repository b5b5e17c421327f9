//! The Semgrep API's wire format, shared by imports, output, client and server.

pub mod lenient;
pub mod timestamp;
pub mod v1;
pub mod v2;

/// Headers sift's client and `sift serve` agree on, beyond the Semgrep API.
pub mod headers {
    /// Names a request so that sending it again changes nothing: a decision
    /// batch's request key, or the id of a memory a create makes.
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    /// The reviewer's name, honoured by `sift serve` only when it has no
    /// tokens (loopback), where it is the only way to know who decided.
    pub const REVIEWER: &str = "x-sift-reviewer";
    /// On every answer of `sift serve` (its version): the client may send
    /// it what Semgrep does not take, such as a triage's preconditions.
    pub const SIFT_SERVE: &str = "x-sift-serve";
    /// On `sift serve`'s findings listing: the change cursor past what the
    /// answer holds. Sent back as the `since_change` parameter, it asks for
    /// only what changed since.
    pub const CHANGE_CURSOR: &str = "x-sift-change-cursor";
}

/// The findings listing's parameter for `sift serve`'s change cursor
/// (Semgrep ignores parameters it does not know).
pub const SINCE_CHANGE: &str = "since_change";

/// `since_change` for every finding, in the order they changed: a first
/// pull that way appends the findings to the cache in nearly the order of
/// their ids, and one that stops half-way resumes from its cursor.
pub const FROM_FIRST_CHANGE: &str = "0";

/// The findings listing's parameter, with `since_change`, by which a client
/// asks `sift serve` to send the findings whose only changes since are to
/// their triage apart, as that triage alone (`v1::FindingsPage::triaged`):
/// the client holds the rest. A server that does not know it sends whole
/// findings, which say the same.
pub const TRIAGE_APART: &str = "triage_apart";

/// The findings listing's parameter, with `since_change`, by which a client
/// asks `sift serve` to send each finding as its store holds it
/// (`v1::FindingsPage::stored`): the row and the stored document, which the
/// client stores as they are instead of reading a v1 finding and writing
/// it back. A finding with sift's own Assistant answers or decisions
/// waiting in the server's outbox still comes in the v1 shape, which lays
/// them over it; so does every finding from a server that does not know
/// the parameter.
pub const AS_STORED: &str = "as_stored";

/// The type of `sift serve`'s copy of its findings (an SQLite file), which
/// a client's first pull asks for (`GET …/findings/copy`).
pub const COPY_TYPE: &str = "application/vnd.sqlite3";
