//! `sift serve`: the embedded backend over HTTP with the Semgrep API's
//! routes, until SIGTERM or Ctrl-C.

use super::{Context, Exit, logging};
use crate::config;
use crate::server::{self, ServerConfig, auth::Tokens};
use crate::text::inert;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8321";

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs --token-file.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: String,
    /// Bearer tokens, one `TOKEN NAME` line per reviewer; every request
    /// must then carry one. Created (mode 0600) with a token for you
    /// when missing.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Add a new token for reviewer NAME to --token-file and exit.
    #[arg(long, value_name = "NAME", requires = "token_file")]
    pub add_token: Option<String>,
    /// A host name the server answers to besides localhost and IP
    /// addresses (repeatable), e.g. the jump box's name; requests naming
    /// any other host are refused, so a web page cannot reach the server
    /// through a name of its own (DNS rebinding).
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
}

pub fn run(ctx: &Context, args: ServeArgs) -> Result<Exit> {
    let ServeArgs {
        listen,
        token_file,
        add_token,
        allow_host,
    } = args;
    if add_token.is_none() {
        ctx.embedded_only("`sift serve`")?;
    }
    let dir = ctx.data_dir()?;
    if let (Some(file), Some(name)) = (&token_file, add_token) {
        Tokens::add_to_file(file, &name)?;
        say!(
            "added a token for {} to {}; hand it to them over a private channel",
            inert(&name),
            file.display()
        );
        return Ok(Exit::Ok);
    }
    let addr = resolve_listen(&listen)?;
    let tokens = match &token_file {
        None => None,
        Some(file) => {
            if !file.exists() {
                let me = &ctx.reviewer;
                Tokens::add_to_file(file, me)?;
                eprintln!(
                    "sift: created {} (mode 0600) with a token for {}; add one per reviewer \
                     with `sift serve --token-file {} --add-token NAME`",
                    file.display(),
                    inert(me),
                    file.display()
                );
            }
            Some(Tokens::load(file)?)
        }
    };
    server::check_listen(addr, tokens.is_some())?;
    logging::to_stderr();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let access = match &tokens {
            Some(t) => format!(
                "bearer tokens required ({} reviewer(s))",
                t.reviewers().count()
            ),
            None => "no tokens (loopback only)".into(),
        };
        let mut cfg = ServerConfig::new(dir.clone(), ctx.reviewer.clone());
        cfg.tokens = tokens;
        cfg.allowed_hosts = allow_host;
        eprintln!(
            "sift serve: http://{bound} (deployment \"{}\"), store {}; {access}",
            cfg.deployment.slug,
            config::display_path(&dir)
        );
        tracing::info!("listening on {bound}");
        server::serve(listener, cfg, server::shutdown_signal()).await
    })?;
    eprintln!("sift serve: stopped");
    Ok(Exit::Ok)
}

/// `127.0.0.1:8321`, `[::1]:8321`, or a name such as `localhost:8321`.
fn resolve_listen(listen: &str) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = listen.parse() {
        return Ok(addr);
    }
    let addrs: Vec<_> = listen
        .to_socket_addrs()
        .with_context(|| format!("--listen {listen}: expected ADDRESS:PORT"))?
        .collect();
    // A name must not reach beyond loopback through one of its addresses.
    addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("--listen {listen}: the name has no address"))
}
