//! The console: the Elm architecture (model, update, view) and a small
//! runtime that owns the terminal, the channels and the background work.
//!
//! Data flows one way: the runtime turns events into actions; `update`
//! changes the model and asks for effects; `perform` carries out those on
//! the store and answers with actions; the views draw the model. `update`
//! and `view` share the model and its queries (`model/`), the pure helpers
//! (`detail_lines`, `format`, `layout`, `text`) and the keymap, and never
//! each other; only the runtime and `perform` touch the store.

pub mod action;
pub mod clipboard;
pub mod compact;
pub mod detail_lines;
pub mod format;
pub mod highlight;
pub mod keymap;
pub mod layout;
pub mod model;
pub mod perform;
pub mod runtime;
pub mod summary;
pub mod theme;
pub mod update;
pub mod view;
