//! The console: the Elm architecture (model, update, view) and a small
//! runtime that owns the terminal, the channels and the background work.

pub mod action;
pub mod compact;
pub mod detail_lines;
pub mod format;
pub mod keymap;
pub mod layout;
pub mod model;
pub mod perform;
pub mod runtime;
pub mod summary;
pub mod text;
pub mod theme;
pub mod update;
pub mod view;
