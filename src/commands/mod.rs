//! Scripting commands that live in their own files.

pub mod memories;
