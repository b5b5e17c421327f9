//! Exit codes scripts can rely on (also in the README).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok,
    /// Something went wrong: the store, the config, the terminal; for
    /// `sync`, everything was sent but fetching changes failed.
    Error,
    // 2 is a usage error, reported by the argument parser.
    /// An input file was refused, or a decision, a name or an id made no
    /// sense; nothing was imported or recorded.
    BadInput,
    /// Decisions or memory changes are recorded but the backend has not
    /// acknowledged them yet; they are kept and sent later.
    Pending,
    /// The backend rejected decisions or memory changes; they are kept,
    /// listed by `sift sync`.
    Rejected,
    /// `rules new`: no draft was a usable rule, or the last one failed its
    /// test on the examples.
    NoRule,
    /// A colleague decided findings before the reviewer's decisions on them
    /// reached the backend: those are kept, not applied, until settled with
    /// `sift conflicts keep|drop`.
    Conflict,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::BadInput => 3,
            Exit::Pending => 4,
            Exit::Rejected => 5,
            Exit::NoRule => 6,
            Exit::Conflict => 7,
        }
    }

    /// What an outbox that has been sent leaves: rejected wins over
    /// pending, pending over success (and conflicts, `Conflict`, over
    /// all of them where a command reports them).
    pub fn of_outbox(rejected: bool, pending: bool) -> Exit {
        if rejected {
            Exit::Rejected
        } else if pending {
            Exit::Pending
        } else {
            Exit::Ok
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}
