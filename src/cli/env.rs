//! What every command starts from ([`Env`]): the configuration as loaded,
//! the pipeline, the templates, the clock, the database to open. Every
//! noun's module imports it from here, and nothing else from its siblings.

use crate::config::{Config, Loaded};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::posting::ApiBases;
use crate::selfservice::Links;
use crate::store::{self, Store};
use crate::workflow::Ctx;
use chrono::{DateTime, Utc};
use std::io::IsTerminal;

/// What every command starts from.
pub(super) struct Env {
    pub(super) renderer: crate::templates::Renderer,
    pub(super) json: bool,
    database: Option<String>,
    pub(super) now: DateTime<Utc>,
    pub(super) loaded: Loaded,
    pub(super) pipeline: Pipeline,
    links: Option<Links>,
}

impl Env {
    pub(super) fn new(
        loaded: Loaded,
        pipeline: Pipeline,
        json: bool,
        database: Option<String>,
        now: DateTime<Utc>,
    ) -> Env {
        Env {
            renderer: crate::templates::Renderer::new(loaded.config.templates.dir.as_deref()),
            json,
            database,
            now,
            links: Links::for_emails(&loaded.config),
            loaded,
            pipeline,
        }
    }

    pub(super) fn config(&self) -> &Config {
        &self.loaded.config
    }

    pub(super) fn url(&self) -> String {
        store::resolve_url(self.database.as_deref(), self.config())
    }

    pub(super) async fn store(&self) -> Result<Store> {
        Store::open(&self.url()).await
    }

    pub(super) fn ctx(&self) -> Ctx<'_> {
        Ctx::new(
            self.config(),
            &self.pipeline,
            &self.renderer,
            self.links.as_ref(),
            self.now,
        )
    }

    pub(super) fn bases(&self) -> ApiBases {
        ApiBases::from(&self.config().poll.sources)
    }

    /// Reads the configuration again from where it was read at start (the
    /// same file, the `ATSD_*` variables), validated: the daemon's reload.
    pub(super) fn reloader(&self) -> Box<dyn Fn() -> Result<Config> + Send + Sync> {
        let path = self.loaded.path.clone();
        Box::new(move || {
            let vars: Vec<(String, String)> = std::env::vars()
                .filter(|(k, _)| k.starts_with("ATSD_"))
                .collect();
            let loaded = Config::load_from(path.as_deref(), &vars)?;
            loaded
                .config
                .pipeline()
                .map_err(|e| Error::input(e.to_string()))?;
            Ok(loaded.config)
        })
    }

    pub(super) fn progress(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }
}
